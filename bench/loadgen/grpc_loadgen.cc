// grpc_loadgen: a native load generator for the API's gRPC PlayService.
//
// It plays sessions the way `prospector bench api` does (bench.py's GrpcPlayer,
// GrpcStreamPlayer, _paced and _closed_loop) and prints one JSON object of
// figures. Python's grpcio client costs 0.4-0.7 ms of CPU per step on a slow VM,
// which takes cores away from the server being measured; this client drives
// every session from one thread with grpc's async API (one CompletionQueue,
// a tag per session and operation, a heap of due times), so its own CPU stays
// small.
// See README.md beside this file for the flags and the output.

#include <grpc/support/time.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "prospector.grpc.pb.h"

namespace pb = prospector::v1;
using Clock = std::chrono::steady_clock;

constexpr int kNoCashOut = 68;        // ends the episode at once: random play leaves it out
constexpr int kFallbackAction = 6;    // when nothing else is valid (as bench.py)
constexpr size_t kOpenInFlight = 20;  // session creation is not measured: don't flood the server
// Deadlines only so that a stuck server cannot hang a benchmark forever.
constexpr auto kCallTimeout = std::chrono::seconds(30);
constexpr auto kStreamSlack = std::chrono::seconds(120);

// ---- arguments ------------------------------------------------------------------

struct Options {
  std::string target;
  std::string mode = "unary";
  long sessions = 200;
  double rate = 10.0;  // steps per second per session; 0 = closed loop
  double seconds = 30.0;
  long per_channel = 10;
};

const char kUsage[] =
    "usage: grpc_loadgen --target HOST:PORT [--mode unary|stream] [--sessions N] [--rate R]\n"
    "                    [--seconds T] [--sessions-per-channel K]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "grpc_loadgen: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

double parse_number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) usage_error(flag + ": not a number: '" + text + "'");
  return value;
}

long parse_count(const std::string& flag, const std::string& text) {
  double value = parse_number(flag, text);
  if (value != std::floor(value) || value < 1 || value > 1e7) usage_error(flag + ": want a whole number >= 1");
  return static_cast<long>(value);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i], value;
    if (flag == "-h" || flag == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    size_t eq = flag.find('=');
    if (flag.rfind("--", 0) == 0 && eq != std::string::npos) {  // --flag=value
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error(flag + " needs a value");
    }
    if (flag == "--target") o.target = value;
    else if (flag == "--mode") o.mode = value;
    else if (flag == "--sessions") o.sessions = parse_count(flag, value);
    else if (flag == "--rate") o.rate = parse_number(flag, value);
    else if (flag == "--seconds") o.seconds = parse_number(flag, value);
    else if (flag == "--sessions-per-channel") o.per_channel = parse_count(flag, value);
    else usage_error("unknown argument " + flag);
  }
  if (o.target.empty()) usage_error("--target is required");
  if (o.mode != "unary" && o.mode != "stream") usage_error("--mode must be unary or stream, not '" + o.mode + "'");
  if (o.rate < 0) usage_error("--rate must be >= 0");
  if (o.seconds <= 0) usage_error("--seconds must be > 0");
  return o;
}

// ---- small helpers ----------------------------------------------------------------

const char* code_name(grpc::StatusCode code) {
  static const char* const names[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? names[i] : "UNKNOWN";
}

std::string describe(const grpc::Status& status) {
  return std::string(code_name(status.error_code())) + ": " + status.error_message();
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

double cpu_seconds() {  // user + system of the whole process, grpc's own threads included
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ---- one session ----------------------------------------------------------------------

enum class Call { kCreate, kReset, kStep, kClose };
// What a completion-queue event is about; each player has one tag per kind, and
// never two operations of one kind in flight.
enum class Event { kUnaryDone, kStreamStarted, kWritten, kRead, kWritesDone, kFinished, kCount };

struct Player;
struct Tag {
  Player* player;
  Event event;
};

struct Player {
  int index = 0;
  pb::PlayService::Stub* stub = nullptr;
  std::mt19937 rng;
  std::string session_id;
  std::vector<char> mask;  // action_mask of the last reply
  bool done = false;       // last reply terminated or truncated: reset before the next step
  bool opened = false;
  bool broken = false;  // stream mode: the Play stream has ended, status holds why
  Call call = Call::kCreate;
  Clock::time_point due, sent;

  std::unique_ptr<grpc::ClientContext> context;  // one per unary call; one per stream
  grpc::Status status;
  // unary calls
  std::unique_ptr<grpc::ClientAsyncResponseReader<pb::Session>> session_call;
  std::unique_ptr<grpc::ClientAsyncResponseReader<pb::Transition>> step_call;
  std::unique_ptr<grpc::ClientAsyncResponseReader<pb::CloseSessionReply>> close_call;
  pb::Session session_reply;
  pb::CloseSessionReply close_reply;
  // the Play stream: each command is a Write and a Read in flight together
  std::unique_ptr<grpc::ClientAsyncReaderWriter<pb::PlayRequest, pb::Transition>> stream;
  pb::PlayRequest request;
  int stream_ops = 0;
  bool stream_failed = false;
  pb::Transition transition;  // a Step reply, and every stream reply

  Tag tags[static_cast<int>(Event::kCount)];
  void* tag(Event e) { return &tags[static_cast<int>(e)]; }

  template <class Reply>
  void take_mask(const Reply& reply) {
    mask.assign(reply.action_mask().begin(), reply.action_mask().end());
  }

  int pick_action() {
    int valid[128];
    int n = 0;
    for (int a = 0; a < static_cast<int>(mask.size()) && n < 128; ++a)
      if (mask[a] && a != kNoCashOut) valid[n++] = a;
    if (n == 0) return kFallbackAction;
    return valid[std::uniform_int_distribution<int>(0, n - 1)(rng)];
  }
};

// ---- the load generator ---------------------------------------------------------------

class LoadGen {
 public:
  explicit LoadGen(const Options& o) : opt_(o), stream_(o.mode == "stream"), players_(o.sessions) {
    long n_channels = (o.sessions + o.per_channel - 1) / o.per_channel;
    for (long c = 0; c < n_channels; ++c) {
      grpc::ChannelArguments args;
      // channels to one address share one connection unless each has its own
      // subchannel pool; we want one TCP connection per channel, like many clients
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      channels_.push_back(grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args));
      stubs_.push_back(pb::PlayService::NewStub(channels_.back()));
    }
    for (long i = 0; i < o.sessions; ++i) {
      Player& p = players_[i];
      p.index = static_cast<int>(i);
      p.stub = stubs_[i % n_channels].get();
      p.rng.seed(static_cast<unsigned>(i));
      for (int e = 0; e < static_cast<int>(Event::kCount); ++e) p.tags[e] = Tag{&p, static_cast<Event>(e)};
    }
  }

  int run() {
    // open every session (not timed)
    std::vector<Player*> all;
    for (Player& p : players_) all.push_back(&p);
    batch(all, Call::kCreate);
    if (!open_failures_.empty()) {
      std::fprintf(stderr, "grpc_loadgen: %zu of %ld sessions could not be created on %s; first: %s\n",
                   open_failures_.size(), opt_.sessions, opt_.target.c_str(), open_failures_[0].c_str());
      close_all();
      shutdown();
      return 1;
    }

    // step; the markers on stderr let a caller measure the server over this phase only
    std::fprintf(stderr, "loadgen: stepping\n");
    Clock::time_point began = Clock::now();
    double cpu_before = cpu_seconds();
    if (opt_.rate > 0) {
      period_ = 1.0 / opt_.rate;
      Clock::time_point start = began + std::chrono::milliseconds(200);
      end_ = start + to_duration(opt_.seconds);
      for (Player& p : players_) {
        p.due = start + to_duration((static_cast<double>(p.index) / opt_.sessions) * period_);  // spread over a period
        if (p.due < end_) {
          ++active_;
          arm(p);
        }
      }
    } else {
      end_ = began + to_duration(opt_.seconds);
      active_ = opt_.sessions;
      for (Player& p : players_) on_due(p);
    }
    pump([this] { return active_ == 0; });
    double wall = seconds_between(began, Clock::now());
    double cpu = cpu_seconds() - cpu_before;
    std::fprintf(stderr, "loadgen: stepped\n");

    close_all();
    shutdown();
    print(wall, cpu);
    return 0;
  }

 private:
  static Clock::duration to_duration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  // The one loop: players whose due time has come, then completion-queue events,
  // until `finished` says so. Due times are a heap of our own and the wait on the
  // queue ends at the earliest: this thread wakes from its own epoll timeout. (One
  // grpc::Alarm per session costs about a third more CPU per step here: each alarm
  // goes through grpc's timer thread, which then has to wake this one.)
  template <class Finished>
  void pump(Finished finished) {
    void* raw;
    bool ok;
    while (!finished()) {
      if (!timers_.empty() && timers_.top().first <= Clock::now()) {
        Player* due = timers_.top().second;
        timers_.pop();
        on_due(*due);
        continue;
      }
      gpr_timespec until =
          timers_.empty() ? gpr_inf_future(GPR_CLOCK_MONOTONIC) : grpc_deadline(timers_.top().first);
      grpc::CompletionQueue::NextStatus got = cq_.AsyncNext(&raw, &ok, until);
      if (got == grpc::CompletionQueue::SHUTDOWN) break;
      if (got == grpc::CompletionQueue::TIMEOUT) continue;
      Tag* t = static_cast<Tag*>(raw);
      Player& p = *t->player;
      switch (t->event) {
        case Event::kUnaryDone:  // unary Finish: the status says it all
          completed(p, p.status.ok());
          break;
        case Event::kStreamStarted:
          if (ok) exchange(p);
          else p.stream->Finish(&p.status, p.tag(Event::kFinished));
          break;
        case Event::kWritten:
        case Event::kRead:
          if (!ok) p.stream_failed = true;  // the stream ended; Finish tells why
          if (--p.stream_ops == 0) {
            if (p.stream_failed) p.stream->Finish(&p.status, p.tag(Event::kFinished));
            else completed(p, true);
          }
          break;
        case Event::kWritesDone:
          p.stream->Finish(&p.status, p.tag(Event::kFinished));
          break;
        case Event::kFinished:
          if (p.call == Call::kClose) {
            completed(p, p.status.ok());
          } else {
            p.broken = true;
            if (p.status.ok()) p.status = grpc::Status(grpc::StatusCode::UNKNOWN, "Play stream ended");
            completed(p, false);
          }
          break;
        case Event::kCount:
          break;
      }
    }
  }

  // Run one kind of call (create or close) for these players, a few at a time.
  void batch(const std::vector<Player*>& todo, Call call) {
    batch_queue_.assign(todo.begin(), todo.end());
    batch_call_ = call;
    in_flight_ = 0;
    while (in_flight_ < kOpenInFlight && !batch_queue_.empty()) batch_next();
    pump([this] { return in_flight_ == 0 && batch_queue_.empty(); });
  }

  void batch_next() {
    Player* p = batch_queue_.front();
    batch_queue_.pop_front();
    ++in_flight_;
    send(*p, batch_call_);
  }

  void batch_done() {
    --in_flight_;
    if (!batch_queue_.empty()) batch_next();
  }

  void close_all() {
    std::vector<Player*> open;
    for (Player& p : players_)
      if (p.opened && !p.broken) open.push_back(&p);  // a broken stream's session is closed already
    batch(open, Call::kClose);
  }

  void shutdown() {
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  void new_context(Player& p, Clock::duration timeout) {
    p.context = std::make_unique<grpc::ClientContext>();
    p.context->set_deadline(std::chrono::system_clock::now() + timeout);
  }

  // Start one call; its completion ends up in completed().
  void send(Player& p, Call call) {
    p.call = call;
    if (stream_) {
      switch (call) {
        case Call::kCreate:
          new_context(p, kStreamSlack + to_duration(opt_.seconds));
          p.request.Clear();
          p.request.mutable_create();
          p.request.set_close_on_end(true);  // the server closes the session when the stream ends
          p.stream = p.stub->PrepareAsyncPlay(p.context.get(), &cq_);
          p.stream->StartCall(p.tag(Event::kStreamStarted));
          break;
        case Call::kReset:
          p.request.Clear();
          p.request.mutable_reset();
          exchange(p);
          break;
        case Call::kStep:
          p.request.Clear();
          p.request.set_action(p.pick_action());
          p.sent = Clock::now();
          exchange(p);
          break;
        case Call::kClose:
          p.stream->WritesDone(p.tag(Event::kWritesDone));
          break;
      }
      return;
    }
    new_context(p, kCallTimeout);
    switch (call) {
      case Call::kCreate:
        p.session_call = p.stub->AsyncCreateSession(p.context.get(), pb::CreateSessionRequest(), &cq_);
        p.session_call->Finish(&p.session_reply, &p.status, p.tag(Event::kUnaryDone));
        break;
      case Call::kReset: {
        pb::ResetRequest request;
        request.set_session_id(p.session_id);
        p.session_call = p.stub->AsyncReset(p.context.get(), request, &cq_);
        p.session_call->Finish(&p.session_reply, &p.status, p.tag(Event::kUnaryDone));
        break;
      }
      case Call::kStep: {
        pb::StepRequest request;
        request.set_session_id(p.session_id);
        request.set_action(p.pick_action());
        p.sent = Clock::now();
        p.step_call = p.stub->AsyncStep(p.context.get(), request, &cq_);
        p.step_call->Finish(&p.transition, &p.status, p.tag(Event::kUnaryDone));
        break;
      }
      case Call::kClose: {
        pb::CloseSessionRequest request;
        request.set_session_id(p.session_id);
        p.close_call = p.stub->AsyncCloseSession(p.context.get(), request, &cq_);
        p.close_call->Finish(&p.close_reply, &p.status, p.tag(Event::kUnaryDone));
        break;
      }
    }
  }

  // One command on the Play stream: its write and the read of its reply, in flight together.
  void exchange(Player& p) {
    p.stream_ops = 2;
    p.stream_failed = false;
    p.stream->Write(p.request, p.tag(Event::kWritten));
    p.stream->Read(&p.transition, p.tag(Event::kRead));
  }

  void completed(Player& p, bool ok) {
    switch (p.call) {
      case Call::kCreate:
        if (ok) {
          p.opened = true;
          if (stream_) {
            p.session_id = p.transition.session_id();
            p.take_mask(p.transition);
          } else {
            p.session_id = p.session_reply.session_id();
            p.take_mask(p.session_reply);
          }
        } else {
          open_failures_.push_back(describe(p.status));
        }
        batch_done();
        break;
      case Call::kReset:  // not timed; the step follows at once
        if (ok) {
          p.done = false;
          if (stream_) p.take_mask(p.transition);
          else p.take_mask(p.session_reply);
          send(p, Call::kStep);
        } else {
          error(describe(p.status));
          after_step(p);
        }
        break;
      case Call::kStep:
        if (ok) {
          latencies_.push_back(seconds_between(p.sent, Clock::now()));
          const std::string& state = p.transition.state_json();
          if (state.empty() || state[0] != '{') error("bad state_json: '" + state.substr(0, 40) + "'");
          p.take_mask(p.transition);
          p.done = p.transition.terminated() || p.transition.truncated();
        } else {
          error(describe(p.status));
        }
        after_step(p);
        break;
      case Call::kClose:
        if (!ok) std::fprintf(stderr, "grpc_loadgen: closing %s: %s\n", p.session_id.c_str(), describe(p.status).c_str());
        batch_done();
        break;
    }
  }

  void error(const std::string& what) {
    ++errors_;
    if (error_examples_.size() < 3) error_examples_.push_back(what);
  }

  // A session's due time has come (paced), or its previous step is done (closed loop).
  void on_due(Player& p) {
    if (opt_.rate > 0 && seconds_between(p.due, Clock::now()) > 0.1 * period_) ++late_sends_;
    if (p.broken) {  // its stream is gone: every step it owes fails, as a client's would
      error(describe(p.status));
      after_step(p);
    } else if (p.done) {
      send(p, Call::kReset);
    } else {
      send(p, Call::kStep);
    }
  }

  void after_step(Player& p) {
    if (opt_.rate > 0) {
      p.due += to_duration(period_);
      if (p.due >= end_) --active_;
      else arm(p);
    } else if (Clock::now() >= end_ || p.broken) {
      --active_;
    } else {
      on_due(p);
    }
  }

  // Wake this player at p.due (at once when that is past).
  void arm(Player& p) { timers_.emplace(p.due, &p); }

  // grpc takes deadlines on its own monotonic clock: convert by way of the time left.
  static gpr_timespec grpc_deadline(Clock::time_point t) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(t - Clock::now()).count();
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(std::max<int64_t>(0, left), GPR_TIMESPAN));
  }

  // Same rule as bench.py's _percentiles: the value at index min(n-1, int(q*n)) of the sorted list.
  void print(double wall, double cpu) {
    std::sort(latencies_.begin(), latencies_.end());
    size_t n = latencies_.size();
    auto ms = [](double s) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", s * 1000);
      return std::string(buf);
    };
    auto at = [&](double q) {
      return n == 0 ? std::string("null") : ms(latencies_[std::min(n - 1, static_cast<size_t>(q * n))]);
    };
    double sum = 0;
    for (double x : latencies_) sum += x;
    std::string examples;
    for (const std::string& e : error_examples_) examples += (examples.empty() ? "" : ", ") + json_string(e);
    std::printf(
        "{\"mode\": \"%s\", \"sessions\": %ld, \"rate_per_session\": %.10g, \"seconds\": %.10g, \"channels\": %zu, "
        "\"steps\": %zu, \"elapsed_s\": %.3f, \"achieved_steps_per_s\": %.1f, \"errors\": %ld, "
        "\"error_examples\": [%s], \"late_sends\": %ld, \"p50_ms\": %s, \"p90_ms\": %s, \"p99_ms\": %s, "
        "\"max_ms\": %s, \"mean_ms\": %s, \"client_cpu_s\": %.3f, \"wall_s\": %.3f}\n",
        opt_.mode.c_str(), opt_.sessions, opt_.rate, opt_.seconds, channels_.size(), n, wall, n / wall, errors_,
        examples.c_str(), late_sends_, at(0.50).c_str(), at(0.90).c_str(), at(0.99).c_str(),
        n ? ms(latencies_.back()).c_str() : "null", n ? ms(sum / n).c_str() : "null", cpu, wall);
    std::fflush(stdout);
  }

  Options opt_;
  bool stream_;
  grpc::CompletionQueue cq_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<pb::PlayService::Stub>> stubs_;
  std::vector<Player> players_;  // never resized: tags point into it
  using Due = std::pair<Clock::time_point, Player*>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> timers_;  // earliest due first

  std::deque<Player*> batch_queue_;
  Call batch_call_ = Call::kCreate;
  size_t in_flight_ = 0;
  std::vector<std::string> open_failures_;

  double period_ = 0;
  Clock::time_point end_;
  long active_ = 0;  // players that still have steps to take
  std::vector<double> latencies_;
  long errors_ = 0;
  std::vector<std::string> error_examples_;
  long late_sends_ = 0;
};

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  LoadGen gen(o);
  return gen.run();
}
