/* N envs in one allocation, stepped in place into caller-owned buffers,
 * split over a small pool of native threads (EnvPool-style). Each env is
 * independent, so the split never changes a result. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

typedef struct {
    double sums[PR_N_METRICS];
    int64_t count;
    int32_t ring_len, ring_head;
    float ring[PR_LOG_RING][PR_N_METRICS];
} pr_env_log;

enum { JOB_STEP = 0, JOB_RESET = 1, JOB_STOP = 2 };

typedef struct {
    pr_batch *b;
    int32_t index;
    pthread_t thread;
} pr_worker;

struct pr_batch {
    int32_t n_envs;
    pr_config config;
    pr_env *envs;
    pr_env_log *logs;
    float *obs;
    const int32_t *actions;
    float *rewards;
    uint8_t *terminals, *truncations, *masks;
    float *final_obs;       /* optional: final observation of an env that ended */
    double *final_metrics;  /* optional: its final episode metrics */
    const uint64_t *reset_seeds;
    /* thread pool: workers 1..n_threads-1; the caller runs chunk 0 */
    int32_t n_threads;
    pr_worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    int64_t generation;
    int32_t job, pending;
};

static void log_episode(pr_env_log *log, const pr_env *e) {
    double m[PR_N_METRICS];
    pr_episode_metrics(e, m);
    for (int i = 0; i < PR_N_METRICS; i++) log->sums[i] += m[i];
    log->count += 1;
    float *rec = log->ring[log->ring_head];
    for (int i = 0; i < PR_N_METRICS; i++) rec[i] = (float)m[i];
    log->ring_head = (log->ring_head + 1) % PR_LOG_RING;
    if (log->ring_len < PR_LOG_RING) log->ring_len++;
}

static void write_outputs(pr_batch *b, int32_t i) {
    pr_observe(&b->envs[i], b->obs + (int64_t)i * PR_OBS_DIM);
    if (b->masks) pr_action_mask(&b->envs[i], b->masks + (int64_t)i * PR_N_ACTIONS);
}

static void step_range(pr_batch *b, int32_t lo, int32_t hi) {
    for (int32_t i = lo; i < hi; i++) {
        pr_env *e = &b->envs[i];
        int term, trunc;
        double r = pr_step(e, b->actions[i], &term, &trunc);
        b->rewards[i] = (float)r;
        b->terminals[i] = (uint8_t)term;
        b->truncations[i] = (uint8_t)trunc;
        if (term || trunc) {
            log_episode(&b->logs[i], e);
            if (b->final_obs) pr_observe(e, b->final_obs + (int64_t)i * PR_OBS_DIM);
            if (b->final_metrics) pr_episode_metrics(e, b->final_metrics + (int64_t)i * PR_N_METRICS);
            /* the batch's config, not the env's: pr_batch_set_config takes
             * effect at each env's next episode */
            pr_reset(e, &b->config, pr_next_seed(e->seed));
        }
        write_outputs(b, i);
    }
}

static void reset_range(pr_batch *b, int32_t lo, int32_t hi) {
    for (int32_t i = lo; i < hi; i++) {
        pr_reset(&b->envs[i], &b->config, b->reset_seeds[i]);
        b->rewards[i] = 0.0f;
        b->terminals[i] = 0;
        b->truncations[i] = 0;
        write_outputs(b, i);
    }
}

static void run_chunk(pr_batch *b, int32_t job, int32_t chunk) {
    int64_t n = b->n_envs, k = b->n_threads;
    int32_t lo = (int32_t)(n * chunk / k), hi = (int32_t)(n * (chunk + 1) / k);
    if (job == JOB_STEP) step_range(b, lo, hi);
    else reset_range(b, lo, hi);
}

/* Waiting: spin briefly (one step_many call takes tens of microseconds, and
 * a futex wake-up on a VM can cost as much), then sleep on the condvar. */
#define SPIN_LIMIT 20000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg) {
    pr_worker *w = (pr_worker *)arg;
    pr_batch *b = w->b;
    int64_t seen = 0;
    for (;;) {
        for (int spin = 0; spin < SPIN_LIMIT && __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == seen; spin++)
            cpu_relax();
        pthread_mutex_lock(&b->mu);
        while (__atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == seen) pthread_cond_wait(&b->start_cv, &b->mu);
        seen = b->generation;
        int32_t job = b->job;
        pthread_mutex_unlock(&b->mu);
        if (job == JOB_STOP) return NULL;
        run_chunk(b, job, w->index);
        if (__atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&b->mu); /* signalled under the lock: the caller cannot miss it */
            pthread_cond_signal(&b->done_cv);
            pthread_mutex_unlock(&b->mu);
        }
    }
}

static void run_job(pr_batch *b, int32_t job) {
    if (b->n_threads <= 1) {
        run_chunk(b, job, 0);
        return;
    }
    pthread_mutex_lock(&b->mu);
    b->job = job;
    __atomic_store_n(&b->pending, b->n_threads - 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&b->generation, 1, __ATOMIC_ACQ_REL);
    pthread_cond_broadcast(&b->start_cv);
    pthread_mutex_unlock(&b->mu);
    run_chunk(b, job, 0);
    for (int spin = 0; spin < SPIN_LIMIT && __atomic_load_n(&b->pending, __ATOMIC_ACQUIRE) > 0; spin++) cpu_relax();
    pthread_mutex_lock(&b->mu);
    while (__atomic_load_n(&b->pending, __ATOMIC_ACQUIRE) > 0) pthread_cond_wait(&b->done_cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

pr_batch *pr_batch_create(int32_t n_envs, const pr_config *config, int32_t n_threads) {
    if (n_envs < 1) return NULL;
    if (n_threads < 1) n_threads = 1;
    if (n_threads > n_envs) n_threads = n_envs;
    pr_batch *b = (pr_batch *)calloc(1, sizeof *b);
    if (!b) return NULL;
    b->n_envs = n_envs;
    b->config = config ? *config : pr_default_config();
    b->envs = (pr_env *)calloc((size_t)n_envs, sizeof(pr_env));
    b->logs = (pr_env_log *)calloc((size_t)n_envs, sizeof(pr_env_log));
    b->n_threads = n_threads;
    if (!b->envs || !b->logs) {
        free(b->envs);
        free(b->logs);
        free(b);
        return NULL;
    }
    for (int32_t i = 0; i < n_envs; i++) pr_reset(&b->envs[i], &b->config, (uint64_t)i);
    if (n_threads > 1) {
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->start_cv, NULL);
        pthread_cond_init(&b->done_cv, NULL);
        b->workers = (pr_worker *)calloc((size_t)n_threads, sizeof(pr_worker));
        for (int32_t t = 1; t < n_threads; t++) {
            b->workers[t].b = b;
            b->workers[t].index = t;
            pthread_create(&b->workers[t].thread, NULL, worker_main, &b->workers[t]);
        }
    }
    return b;
}

void pr_batch_destroy(pr_batch *b) {
    if (!b) return;
    if (b->n_threads > 1) {
        pthread_mutex_lock(&b->mu);
        b->job = JOB_STOP;
        __atomic_add_fetch(&b->generation, 1, __ATOMIC_ACQ_REL);
        pthread_cond_broadcast(&b->start_cv);
        pthread_mutex_unlock(&b->mu);
        for (int32_t t = 1; t < b->n_threads; t++) pthread_join(b->workers[t].thread, NULL);
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->start_cv);
        pthread_cond_destroy(&b->done_cv);
        free(b->workers);
    }
    free(b->envs);
    free(b->logs);
    free(b);
}

void pr_batch_set_buffers(pr_batch *b, float *observations, const int32_t *actions, float *rewards,
                          uint8_t *terminals, uint8_t *truncations, uint8_t *action_masks) {
    b->obs = observations;
    b->actions = actions;
    b->rewards = rewards;
    b->terminals = terminals;
    b->truncations = truncations;
    b->masks = action_masks;
}

void pr_batch_set_final_buffers(pr_batch *b, float *final_observations, double *final_metrics) {
    b->final_obs = final_observations;
    b->final_metrics = final_metrics;
}

void pr_batch_reset_many(pr_batch *b, const uint64_t *seeds) {
    b->reset_seeds = seeds;
    run_job(b, JOB_RESET);
    b->reset_seeds = NULL;
}

void pr_batch_step_many(pr_batch *b) { run_job(b, JOB_STEP); }

void pr_batch_set_config(pr_batch *b, const pr_config *config) {
    b->config = config ? *config : pr_default_config();
}

int32_t pr_batch_size(const pr_batch *b) { return b->n_envs; }

pr_env *pr_batch_env(pr_batch *b, int32_t i) {
    return (i >= 0 && i < b->n_envs) ? &b->envs[i] : NULL;
}

int64_t pr_batch_read_log(pr_batch *b, double *sums, double *records, int64_t max_records, int64_t *n_records) {
    int64_t count = 0, k = 0;
    for (int m = 0; m < PR_N_METRICS; m++) sums[m] = 0.0;
    for (int32_t i = 0; i < b->n_envs; i++) {
        pr_env_log *log = &b->logs[i];
        for (int m = 0; m < PR_N_METRICS; m++) sums[m] += log->sums[m];
        count += log->count;
        /* oldest first within each env */
        for (int32_t j = 0; j < log->ring_len && records && k < max_records; j++) {
            int32_t slot = (log->ring_head - log->ring_len + j + PR_LOG_RING) % PR_LOG_RING;
            for (int m = 0; m < PR_N_METRICS; m++) records[k * PR_N_METRICS + m] = (double)log->ring[slot][m];
            k++;
        }
        memset(log, 0, sizeof *log);
    }
    if (n_records) *n_records = k;
    return count;
}
