/* The render snapshot written as JSON, for the play API: the same bytes as
 * orjson.dumps(Engine.render_state()) in the bindings, made without building
 * a Python object per number (a play step's reply is mostly this state).
 *
 * Numbers are written as orjson writes them: integers plainly, doubles as
 * their shortest round-trip decimals (the shortest digits that read back as
 * the same double, the closest to it among those, ties to an even digit), in
 * orjson's layout: "128.0", "0.25", "0.00001", "1.5e-7", "1e+16". */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

/* ---- doubles ---- */

/* floor(e * log10(2)) for |e| < 1650 */
static int floor_log10_pow2(int e) { return (int)(((int64_t)e * 78913) >> 18); }

static const uint64_t POW10[20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL, 10000000000000000000ULL};

/* X * 10^k / 2^s, exactly: the quotient (it fits 64 bits where it is used), whether the
 * remainder is zero, and how the remainder compares with half of 2^s (-1, 0, 1). */
typedef struct {
    uint64_t q;
    int zero, vs_half;
} scaled;

/* k <= 21 and s <= 68 (or s <= 0: a shift left), where X * 10^k fits 128 bits (X < 2^55) */
static scaled scale_small(uint64_t x, int k, int s) {
    unsigned __int128 n = (unsigned __int128)x * POW10[k < 19 ? k : 19] * (k < 19 ? 1 : POW10[k - 19]);
    if (s <= 0) return (scaled){(uint64_t)(n << -s), 1, -1};
    unsigned __int128 rest = n & ((((unsigned __int128)1) << s) - 1), half = ((unsigned __int128)1) << (s - 1);
    return (scaled){(uint64_t)(n >> s), rest == 0, rest > half ? 1 : (rest == half ? 0 : -1)};
}

/* Any k up to 343 and s up to 1100 (the smallest doubles), with 32-bit limbs */
#define BIG_LIMBS 40
typedef struct {
    uint32_t w[BIG_LIMBS];
    int n;
} big;

static void big_pow10(big *b, int k) {
    b->w[0] = 1, b->n = 1;
    for (; k > 0; k -= 9) {
        uint64_t m = POW10[k < 9 ? k : 9], carry = 0;
        for (int i = 0; i < b->n; i++) {
            uint64_t t = (uint64_t)b->w[i] * m + carry;
            b->w[i] = (uint32_t)t, carry = t >> 32;
        }
        if (carry) b->w[b->n++] = (uint32_t)carry;
    }
}

static uint32_t big_limb(const big *b, int i) { return i < b->n ? b->w[i] : 0; }

static scaled scale_big(const big *p10, uint64_t x, int s) {
    big n = {{0}, p10->n + 2};
    uint64_t halves[2] = {x & 0xffffffffu, x >> 32};
    for (int j = 0; j < 2; j++) {
        uint64_t carry = 0;
        for (int i = 0; i < p10->n; i++) {
            uint64_t t = (uint64_t)p10->w[i] * halves[j] + n.w[i + j] + carry;
            n.w[i + j] = (uint32_t)t, carry = t >> 32;
        }
        n.w[p10->n + j] += (uint32_t)carry;
    }
    int limb = s / 32, bit = s % 32;
    unsigned __int128 top = big_limb(&n, limb) | (unsigned __int128)big_limb(&n, limb + 1) << 32 |
                            (unsigned __int128)big_limb(&n, limb + 2) << 64;
    int below_zero = 1;                     /* bits [0, s-1) */
    for (int i = 0; i < (s - 1) / 32; i++) below_zero = below_zero && n.w[i] == 0;
    int last = s - 1;
    if (last % 32) below_zero = below_zero && (big_limb(&n, last / 32) & ((1u << (last % 32)) - 1)) == 0;
    int half_bit = big_limb(&n, last / 32) >> (last % 32) & 1;
    return (scaled){(uint64_t)(top >> bit), !half_bit && below_zero, half_bit ? (below_zero ? 0 : 1) : -1};
}

/* Shortest digits of a finite v > 0 (v is about digits * 10^exp10) with exact integer
 * arithmetic, for v < 2^56 (every value of a game state); returns 0 above it
 * (shortest_by_printf takes those).
 *
 * v = m * 2^e. In units of 2^(e-2), v is D = 4m and the doubles that read
 * back as v lie in [L, H]: H = D + 2 (half the gap to the next double),
 * L = D - 2, or D - 1 at a power of two (the gap below is half as wide);
 * the ends belong to v when m is even (reading rounds ties to even). Those
 * three are scaled by 10^-p0, chosen so that [L, H] spans 10 to 100 units,
 * and digits are then dropped for as long as some number in [L, H] still
 * ends in them. */
static int shortest_exact(double v, uint64_t *digits, int *exp10) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int biased = (int)(bits >> 52) & 0x7ff;
    uint64_t fraction = bits & ((1ULL << 52) - 1);
    int e = (biased ? biased : 1) - 1075;
    if (e > 3) return 0;
    uint64_t m = biased ? fraction | (1ULL << 52) : fraction;
    int even = (m & 1) == 0;
    uint64_t d = 4 * m, h = d + 2, l = d - ((fraction == 0 && biased > 1) ? 1 : 2);
    int p0 = floor_log10_pow2(e) - 1;       /* <= -1 here: scaled = X * 10^-p0 / 2^(2-e) */
    scaled sl, sd, sh;
    if (-p0 <= 21) {
        sl = scale_small(l, -p0, 2 - e), sd = scale_small(d, -p0, 2 - e), sh = scale_small(h, -p0, 2 - e);
    } else {
        big p10;
        big_pow10(&p10, -p0);
        sl = scale_big(&p10, l, 2 - e), sd = scale_big(&p10, d, 2 - e), sh = scale_big(&p10, h, 2 - e);
    }
    uint64_t lo = sl.q + (!sl.zero || !even), hi = sh.q - (sh.zero && !even), qd = sd.q;
    int zero_below = sd.zero, above_half = sd.vs_half, k = 0;
    while ((lo + 9) / 10 <= hi / 10) {     /* a number with one digit fewer still fits */
        uint64_t digit = qd % 10;
        qd /= 10;
        above_half = digit > 5 ? 1 : (digit < 5 ? -1 : (zero_below ? 0 : 1));
        zero_below = zero_below && digit == 0;
        lo = (lo + 9) / 10, hi /= 10, k++;
    }
    int up = above_half > 0 || (above_half == 0 && (qd & 1)); /* the nearer; a tie to the even */
    uint64_t c = (up && qd + 1 <= hi) || qd < lo ? qd + 1 : qd;
    *digits = c;
    *exp10 = p0 + k;
    return 1;
}

/* The same for any finite v > 0, the slow way: the first precision at which the
 * correctly rounded digits read back as v, or, at a power of two (where the
 * doubles below are twice as dense), the digits one above them do. */
static void shortest_by_printf(double v, uint64_t *digits, int *exp10) {
    char buf[48];
    int power_of_two = frexp(v, &(int){0}) == 0.5;
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*e", precision - 1, v);
        uint64_t c = 0;
        char *p = buf;
        for (; *p != 'e'; p++)
            if (*p != '.') c = c * 10 + (uint64_t)(*p - '0');
        int e = atoi(p + 1) - (precision - 1);
        int fits = strtod(buf, NULL) == v;
        if (!fits && power_of_two && precision < 17) {
            snprintf(buf, sizeof buf, "%llue%d", (unsigned long long)(c + 1), e);
            if (strtod(buf, NULL) == v) c += 1, fits = 1;
        }
        if (fits || precision == 17) {
            for (; c % 10 == 0; c /= 10) e++; /* 10e-5 after a carry: 1e-4 */
            *digits = c;
            *exp10 = e;
            return;
        }
    }
}

static int count_digits(uint64_t c) {
    int n = 1;
    while (n < 20 && c >= POW10[n]) n++;
    return n;
}

/* Writes c's n digits at out; returns out + n. */
static char *write_digits(char *out, uint64_t c, int n) {
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + c % 10);
        c /= 10;
    }
    return out + n;
}

int pr_json_double(double v, char *out) {
    char *p = out;
    if (!isfinite(v)) {
        memcpy(p, "null", 4);                /* as orjson writes NaN and the infinities */
        return 4;
    }
    if (signbit(v)) *p++ = '-', v = -v;
    if (v == 0.0) {
        memcpy(p, "0.0", 3);
        return (int)(p - out) + 3;
    }
    uint64_t c;
    int exp10;
    if (!shortest_exact(v, &c, &exp10)) shortest_by_printf(v, &c, &exp10);
    int n = count_digits(c), point = n + exp10; /* v = 0.DIGITS * 10^point */
    if (exp10 >= 0 && point <= 16) {        /* 1234e3 -> 1234000.0 */
        p = write_digits(p, c, n);
        memset(p, '0', (size_t)exp10);
        p += exp10;
        memcpy(p, ".0", 2);
        p += 2;
    } else if (point > 0 && point <= 16) {  /* 1234e-2 -> 12.34 */
        char digits[20];
        write_digits(digits, c, n);
        memcpy(p, digits, (size_t)point);
        p += point;
        *p++ = '.';
        memcpy(p, digits + point, (size_t)(n - point));
        p += n - point;
    } else if (point > -5 && point <= 0) {  /* 1234e-6 -> 0.001234 */
        memcpy(p, "0.", 2);
        p += 2;
        memset(p, '0', (size_t)-point);
        p += -point;
        p = write_digits(p, c, n);
    } else {                                /* 1234e-10 -> 1.234e-7, 1e16 -> 1e+16 */
        char digits[20];
        write_digits(digits, c, n);
        *p++ = digits[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)(n - 1));
            p += n - 1;
        }
        int exponent = point - 1;
        *p++ = 'e';
        *p++ = exponent < 0 ? '-' : '+';
        p += snprintf(p, 8, "%d", exponent < 0 ? -exponent : exponent);
    }
    return (int)(p - out);
}

/* ---- the writer: a cursor that stops (full = 1) rather than overrun ---- */

typedef struct {
    char *p, *end;
    int full;
} json_out;

static void put(json_out *w, const char *s, size_t n) {
    if ((size_t)(w->end - w->p) < n) {
        w->full = 1;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

#define LIT(w, s) put((w), (s), sizeof(s) - 1)

static void put_string(json_out *w, const char *s) {
    LIT(w, "\"");
    put(w, s, strlen(s));
    LIT(w, "\"");
}

static void put_key(json_out *w, const char *s) {
    put_string(w, s);
    LIT(w, ":");
}

static void put_uint(json_out *w, uint64_t v) {
    char text[24];
    int n = count_digits(v);
    write_digits(text, v, n);
    put(w, text, (size_t)n);
}

static void put_int(json_out *w, int64_t v) {
    if (v < 0) LIT(w, "-");
    put_uint(w, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

static void put_double(json_out *w, double v) {
    char text[32];
    put(w, text, (size_t)pr_json_double(v, text));
}

/* Most numbers of a state are estimates quantized to q/255 (threats, compositions,
 * stabilities, confidences): their 256 texts are written once and copied. */
static struct {
    char text[32];
    int length;
    float value;
} Q255[256];
static pthread_once_t q255_once = PTHREAD_ONCE_INIT;

static void q255_build(void) {
    for (int q = 0; q < 256; q++) {
        Q255[q].value = (float)((double)q * INV_255); /* as pr_render_snapshot makes them */
        Q255[q].length = pr_json_double(Q255[q].value, Q255[q].text);
    }
}

/* A float of the snapshot: its text from Q255 when it is one of those */
static void put_float(json_out *w, float v) {
    int q = v >= 0.0f && v <= 1.0f ? (int)(v * 255.0f + 0.5f) : 0;
    if (Q255[q].value == v && (v != 0.0f || !signbit(v))) put(w, Q255[q].text, (size_t)Q255[q].length);
    else put_double(w, v);
}

static void put_bool(json_out *w, int v) {
    if (v) LIT(w, "true");
    else LIT(w, "false");
}

static void put_name_or_null(json_out *w, const char *const *names, int n, int32_t i) {
    if (i >= 0 && i < n) put_string(w, names[i]);
    else LIT(w, "null");
}

/* [v0,v1,...] */
static void put_byte_list(json_out *w, const uint8_t *v, int n) {
    LIT(w, "[");
    for (int i = 0; i < n; i++) {
        if (i) LIT(w, ",");
        put_uint(w, v[i]);
    }
    LIT(w, "]");
}

/* {"iron":v0,"nickel":v1,...} */
static void put_by_commodity(json_out *w, const pr_json_names *names, const double *v) {
    LIT(w, "{");
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        if (c) LIT(w, ",");
        put_key(w, names->commodity[c]);
        put_double(w, v[c]);
    }
    LIT(w, "}");
}

static void put_config(json_out *w, const pr_json_names *names, const pr_config *c) {
    LIT(w, "{\"time_max\":");
    put_int(w, c->time_max);
    LIT(w, ",\"reward_mode\":");
    put_string(w, names->reward_mode[c->reward_mode == PR_REWARD_SPARSE]); /* as config_from_cdata */
    LIT(w, ",\"pirates\":");
    put_bool(w, c->pirates);
    LIT(w, ",\"hazards\":");
    put_bool(w, c->hazards);
    LIT(w, ",\"scan_noise\":");
    put_bool(w, c->scan_noise);
    LIT(w, ",\"fractures\":");
    put_bool(w, c->fractures);
    LIT(w, ",\"price_impact\":");
    put_bool(w, c->price_impact);
    LIT(w, ",\"shocks\":");
    put_bool(w, c->shocks);
    LIT(w, "}");
}

static void put_nodes(json_out *w, const pr_json_names *names, const pr_render *r) {
    LIT(w, "[");
    for (int i = 0; i < r->n_nodes; i++) {
        if (i) LIT(w, ",");
        LIT(w, "{\"id\":");
        put_int(w, i);
        LIT(w, ",\"type\":");
        if (r->node_type[i] < PR_N_NODE_TYPES) put_string(w, names->node_type[r->node_type[i]]);
        else put_int(w, r->node_type[i]);
        LIT(w, ",\"x\":");
        put_int(w, r->node_x[i]);
        LIT(w, ",\"y\":");
        put_int(w, r->node_y[i]);
        int degree = r->node_degree[i] < PR_MAX_NEIGHBORS ? r->node_degree[i] : PR_MAX_NEIGHBORS;
        LIT(w, ",\"neighbors\":");
        put_byte_list(w, r->node_neighbor[i], degree);
        LIT(w, ",\"travel_times\":");
        put_byte_list(w, r->node_travel_time[i], degree);
        LIT(w, ",\"visited\":");
        put_bool(w, r->node_visited[i]);
        LIT(w, ",\"threat_estimate\":");
        put_float(w, r->node_threat_est[i]);
        LIT(w, ",\"hops\":");
        put_int(w, r->node_hops[i]);
        LIT(w, "}");
    }
    LIT(w, "]");
}

static void put_asteroids(json_out *w, const pr_json_names *names, const pr_render *r) {
    LIT(w, "[");
    int first = 1;
    for (int a = 0; a < r->n_asteroids && a < PR_MAX_ASTEROIDS; a++) {
        if (!r->ast_valid[a]) continue;
        if (!first) LIT(w, ",");
        first = 0;
        LIT(w, "{\"slot\":");
        put_int(w, a);
        LIT(w, ",\"selected\":");
        put_bool(w, a == r->selected);
        LIT(w, ",\"composition\":{");
        for (int c = 0; c < PR_N_COMMODITIES; c++) {
            if (c) LIT(w, ",");
            put_key(w, names->commodity[c]);
            put_float(w, r->ast_comp[a][c]);
        }
        LIT(w, "},\"stability\":");
        put_float(w, r->ast_stability[a]);
        LIT(w, ",\"depletion\":");
        put_float(w, r->ast_depletion[a]);
        LIT(w, ",\"confidence\":");
        put_float(w, r->ast_confidence[a]);
        LIT(w, "}");
    }
    LIT(w, "]");
}

/* pr_events after flags, action and applied_action, in the header's order: each is written
 * only when it is not zero */
typedef struct {
    const char *name;
    size_t offset;
    int is_double;
} event_field;

#define EVENT_INT(f) {#f, offsetof(pr_events, f), 0}
#define EVENT_DOUBLE(f) {#f, offsetof(pr_events, f), 1}
static const event_field EVENT_FIELDS[] = {
    EVENT_INT(dt), EVENT_INT(travel_from), EVENT_INT(travel_to), EVENT_INT(scan_kind),
    EVENT_INT(sale_commodity), EVENT_DOUBLE(sale_units), EVENT_DOUBLE(sale_revenue),
    EVENT_DOUBLE(purchase_cost), EVENT_DOUBLE(mined_units), EVENT_DOUBLE(fracture_damage),
    EVENT_DOUBLE(overheat_damage), EVENT_DOUBLE(hazard_damage), EVENT_DOUBLE(pirate_damage),
    EVENT_DOUBLE(pirate_loss), EVENT_DOUBLE(reward)};

static void put_events(json_out *w, const pr_json_names *names, const pr_events *ev) {
    LIT(w, "{\"names\":[");
    int first = 1;
    for (int i = 0; i < PR_N_EVENTS; i++) {
        if (!(ev->flags >> i & 1u)) continue;
        if (!first) LIT(w, ",");
        first = 0;
        put_string(w, names->event[i]);
    }
    LIT(w, "],\"flags\":");
    put_uint(w, ev->flags);
    LIT(w, ",\"action\":");
    put_int(w, ev->action);
    LIT(w, ",\"action_name\":");
    put_name_or_null(w, names->action, PR_N_ACTIONS, ev->action);
    LIT(w, ",\"applied_action\":");
    put_int(w, ev->applied_action);
    LIT(w, ",\"applied_action_name\":");
    put_name_or_null(w, names->action, PR_N_ACTIONS, ev->applied_action);
    for (size_t f = 0; f < sizeof EVENT_FIELDS / sizeof EVENT_FIELDS[0]; f++) {
        const char *at = (const char *)ev + EVENT_FIELDS[f].offset;
        if (EVENT_FIELDS[f].is_double) {
            double v;
            memcpy(&v, at, sizeof v);
            if (v == 0.0) continue;
            LIT(w, ",");
            put_key(w, EVENT_FIELDS[f].name);
            put_double(w, v);
        } else {
            int32_t v;
            memcpy(&v, at, sizeof v);
            if (v == 0) continue;
            LIT(w, ",");
            put_key(w, EVENT_FIELDS[f].name);
            put_int(w, v);
        }
    }
    LIT(w, "}");
}

int64_t pr_render_json(const pr_env *env, const pr_json_names *names, char *out, int64_t cap) {
    pthread_once(&q255_once, q255_build);
    pr_render r;
    pr_render_snapshot(env, &r);
    json_out w = {out, out + (cap > 0 ? cap : 0), 0};
    LIT(&w, "{\"t\":");
    put_int(&w, r.t);
    LIT(&w, ",\"time_remaining\":");
    put_int(&w, r.time_remaining);
    LIT(&w, ",\"time_max\":");
    put_int(&w, r.time_max);
    LIT(&w, ",\"done\":");
    put_bool(&w, r.done != 0);
    LIT(&w, ",\"terminated\":");
    put_bool(&w, r.done == 1);
    LIT(&w, ",\"truncated\":");
    put_bool(&w, r.done == 2);
    LIT(&w, ",\"seed\":");
    put_uint(&w, env->seed);
    LIT(&w, ",\"config\":");
    put_config(&w, names, &env->config);
    LIT(&w, ",\"current_node\":");
    put_int(&w, r.current_node);
    LIT(&w, ",\"selected_asteroid\":");
    put_int(&w, r.selected);
    LIT(&w, ",\"nodes\":");
    put_nodes(&w, names, &r);
    LIT(&w, ",\"asteroids\":");
    put_asteroids(&w, names, &r);
    LIT(&w, ",\"ship\":{\"fuel\":");
    put_double(&w, r.fuel);
    LIT(&w, ",\"hull\":");
    put_double(&w, r.hull);
    LIT(&w, ",\"heat\":");
    put_double(&w, r.heat);
    LIT(&w, ",\"tool\":");
    put_double(&w, r.tool);
    LIT(&w, ",\"alert\":");
    put_double(&w, r.alert);
    LIT(&w, ",\"credits\":");
    put_double(&w, r.credits);
    LIT(&w, ",\"repair_kits\":");
    put_int(&w, r.repair_kits);
    LIT(&w, ",\"stabilizers\":");
    put_int(&w, r.stabilizers);
    LIT(&w, ",\"decoys\":");
    put_int(&w, r.decoys);
    LIT(&w, ",\"escape_ticks\":");
    put_int(&w, r.escape_ticks);
    LIT(&w, "},\"cargo\":");
    put_by_commodity(&w, names, r.cargo);
    LIT(&w, ",\"refined\":");
    put_by_commodity(&w, names, r.refined);
    LIT(&w, ",\"cargo_value\":");
    put_double(&w, r.cargo_value);
    LIT(&w, ",\"market\":{");
    for (int c = 0; c < PR_N_COMMODITIES; c++) {
        if (c) LIT(&w, ",");
        put_key(&w, names->commodity[c]);
        LIT(&w, "{\"price\":");
        put_double(&w, r.price[c]);
        LIT(&w, ",\"prev_price\":");
        put_double(&w, r.prev_price[c]);
        LIT(&w, ",\"inventory\":");
        put_double(&w, r.inventory[c]);
        LIT(&w, "}");
    }
    LIT(&w, "},\"action_mask\":");
    put_byte_list(&w, r.mask, PR_N_ACTIONS);
    LIT(&w, ",\"events\":");
    put_events(&w, names, &r.events);
    LIT(&w, ",\"metrics\":{");
    for (int i = 0; i < PR_N_METRICS; i++) {
        if (i) LIT(&w, ",");
        put_key(&w, names->metric[i]);
        put_double(&w, r.metrics[i]);
    }
    LIT(&w, "}}");
    return w.full ? -1 : (int64_t)(w.p - out);
}

int64_t pr_events_json(const pr_env *env, const pr_json_names *names, char *out, int64_t cap) {
    json_out w = {out, out + (cap > 0 ? cap : 0), 0};
    put_events(&w, names, &env->events);
    return w.full ? -1 : (int64_t)(w.p - out);
}
