/* Shortest exact text for float32 matrices, as rows of a vectors TSV.
 *
 * Each value is written with the fewest significant digits whose decimal parses
 * back to the same float32 the way the projector parses it: decimal -> nearest
 * float64 (JavaScript's Number) -> nearest float32 (Float32Array). Numbers below 1
 * drop the leading zero (".0123"), which JavaScript's Number() and Python's float()
 * both accept, and the exponent form ("1.5e-7") is written where it is shorter.
 *
 * The reference check, fits(), is exact: m and 10^F are exact doubles for |F| <= 22,
 * so the IEEE quotient (or product) m / 10^F is the correctly rounded value of the
 * decimal m * 10^-F. put_general asks it digit count by digit count; values outside
 * that range go through printf/strtod, which glibc rounds correctly too.
 *
 * Most weights (1e-14 <= |x| < 1e6, needing 7 to 9 digits) take a faster road to the
 * same text, in two passes over a block of values. Planning tests 6, 7, 8 and 9
 * digits at once in one 4-lane vector, and without dividing: the candidate's distance
 * from x is compared with x's float32 rounding interval, in units of the last digit,
 * with a margin that covers every rounding fits() would do; a candidate within the
 * margin of an edge (rare) is left to fits(). Where the CPU has AVX-512 (asked at run
 * time: the library itself assumes only baseline x86-64), planning runs one value per
 * lane, 8 at a time. Writing then makes the digits, padded to nine, with a few
 * multiply-shifts into one 64-bit word, stores them with fixed-size copies and moves
 * on by the true length.
 *
 * Built on first use by projector_bundle/tsvfloat.py; must not be compiled with
 * -ffast-math, which would break the exact checks.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* 10^-45 .. 10^39, the decimal exponents of float32, as the nearest doubles: only used to
 * estimate how many digits a value has, never to check exactness. */
static const double POW10_ANY[85] = {
    1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36,
    1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26,
    1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16,
    1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6,
    1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4,
    1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
    1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24,
    1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34,
    1e35, 1e36, 1e37, 1e38, 1e39,
};

/* Round to the nearest integer, ties to even, for 0 <= s < 2^52: adding 2^52 leaves no
 * fraction bits, so the addition itself rounds (in the default rounding mode). */
static double round_even(double s) {
    return (s + 0x1p52) - 0x1p52;
}

/* Does the decimal nearest to a with F fractional digits round back to x? */
static int fits(double a, float x, int F, uint64_t *m) {
    double r = round_even(F >= 0 ? a * POW10[F] : a / POW10[-F]);
    double d = F >= 0 ? r / POW10[F] : r * POW10[-F];
    *m = (uint64_t)r;
    return r > 0 && (float)d == x;
}

static const uint64_t POW10_INT[20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL,
    100000ULL, 1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL,
    10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
    1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL,
};

static int count_digits(uint64_t m) {
    int n = 1;
    while (n < 20 && m >= POW10_INT[n]) n++;
    return n;
}

/* "00".."99": two digits per step when writing numbers. */
static const char PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The last n digits of m (zero-padded), right to left, ending just before `end`. */
static void put_digits(char *end, uint64_t m, int n) {
    while (n >= 2) {
        uint64_t pair = m % 100;
        m /= 100;
        end -= 2;
        memcpy(end, PAIRS + 2 * pair, 2);
        n -= 2;
    }
    if (n) *--end = (char)('0' + m % 10);
}

/* m * 10^-F as the shorter of "123.45"/".0012345" and "1.2345e-7". */
static char *put_decimal(char *p, uint64_t m, int F) {
    int nd = count_digits(m);
    int exp10 = nd - 1 - F;
    uint64_t mant = m;
    int mant_digits = nd;
    while (mant % 10 == 0 && mant_digits > 1) {
        mant /= 10;
        mant_digits--;
    }
    int exp_abs = exp10 < 0 ? -exp10 : exp10;
    int sci_len = mant_digits + (mant_digits > 1) + 1 + (exp10 < 0) + (exp_abs >= 10 ? 2 : 1);
    int pos_len = F <= 0 ? nd - F : (nd > F ? nd - F : 0) + 1 + F;
    if (pos_len <= sci_len) {
        if (F <= 0) {
            put_digits(p + nd, m, nd);
            memset(p + nd, '0', (size_t)(-F));
            return p + pos_len;
        }
        int int_digits = nd > F ? nd - F : 0;
        put_digits(p + pos_len, m, F); /* fraction, zero-padded to F digits */
        p[int_digits] = '.';
        if (int_digits) put_digits(p + int_digits, m / POW10_INT[F], int_digits);
        return p + pos_len;
    }
    put_digits(p + 1, mant / (uint64_t)POW10[mant_digits - 1], 1);
    char *q = p + 1;
    if (mant_digits > 1) {
        *q++ = '.';
        put_digits(q + mant_digits - 1, mant, mant_digits - 1);
        q += mant_digits - 1;
    }
    *q++ = 'e';
    if (exp10 < 0) *q++ = '-';
    int ed = exp_abs >= 10 ? 2 : 1;
    put_digits(q + ed, (uint64_t)exp_abs, ed);
    return q + ed;
}

/* The rare values outside the exact-double range: glibc's printf and strtod round correctly. */
static char *put_slow(char *p, double a, float x) {
    char buf[32];
    for (int k = 1; k <= 9; k++) {
        snprintf(buf, sizeof buf, "%.*e", k - 1, a);
        if ((float)strtod(buf, NULL) == x) break;
    }
    size_t n = strlen(buf);
    memcpy(p, buf, n);
    return p + n;
}

/* floor(log10 x) for positive normal x, exactly: the estimate from the binary exponent
 * (78913 / 2^18 ~ log10 2) is never high and at most one low for any float32, and no
 * float32 lies between 10^n and its nearest double, so one comparison corrects it. */
static int decimal_exponent(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    int binary = (int)(bits >> 23) - 127; /* subnormals read as 2^-127: their F is out of range, so put_slow */
    int e = (binary * 78913) >> 18;
    return e + ((double)x >= POW10_ANY[e + 1 + 45]);
}

/* Any finite nonzero x, the plain way: 7, 8 and 9 digits checked one by one, fewer
 * digits looked for when 7 suffice, printf/strtod outside the exact-double range. */
static char *put_general(char *p, float x) {
    double a = (double)x;
    int e = decimal_exponent(x);
    int F9 = 8 - e;
    if (F9 - 2 < -22 || F9 > 22) return put_slow(p, a, x);
    uint64_t m7, m8, m9;
    int ok7 = fits(a, x, F9 - 2, &m7), ok8 = fits(a, x, F9 - 1, &m8), ok9 = fits(a, x, F9, &m9);
    uint64_t best_m = ok8 ? m8 : m9;
    int best_F = ok8 ? F9 - 1 : F9;
    if (ok7) {
        best_m = m7, best_F = F9 - 2;
        uint64_t m;
        for (int F = F9 - 3; F >= F9 - 8 && F >= -22 && fits(a, x, F, &m); F--) best_m = m, best_F = F;
    } else if (!ok8 && !ok9) {
        return put_slow(p, a, x);
    }
    return put_decimal(p, best_m, best_F);
}

typedef double f64x4 __attribute__((vector_size(32)));
typedef int64_t i64x4 __attribute__((vector_size(32)));

/* Bit i set when lane i is negative (its sign bit is set). By pointer: passing a 32-byte
 * vector by value would depend on AVX in the calling convention. */
static inline unsigned negative_lanes(const f64x4 *v) {
#if defined(__SSE2__)
    __m128d low = {(*v)[0], (*v)[1]}, high = {(*v)[2], (*v)[3]};
    return (unsigned)(_mm_movemask_pd(low) | _mm_movemask_pd(high) << 2);
#else
    i64x4 n = (i64x4)*v < 0;
    return (unsigned)((n[0] & 1) | (n[1] & 2) | (n[2] & 4) | (n[3] & 8));
#endif
}

/* Which of 6, 7, 8 and 9 significant digits (F9 - 3 .. F9 >= 0 fractional digits) give a
 * decimal that rounds back to x, for x not a power of two: bit k - 6 is set when k digits do.
 * r gets the candidate digits, rounded exactly as fits() rounds them.
 *
 * fits() divides to find out; here, in units of 10^-F, the candidate is |r - s| from x
 * (s = x * 10^F, r - s exact) and x's float32 rounding interval reaches `half` (half an
 * ulp) either side. Away from the interval's edges the answer is plain: the rounding in s
 * and in decimal -> float64 each move the value by at most 2^-53 s, so a candidate more
 * than 2^-48 s inside (or outside) the edge round-trips (or does not) whatever fits()'s
 * division rounds to. Returns -1 when one is that close to an edge (never seen in random
 * data): the caller then asks fits(). */
static int fits_6789(float x, int F9, f64x4 *r) {
    f64x4 scale;
    memcpy(&scale, POW10 + F9 - 3, sizeof scale);
    uint32_t bits;
    memcpy(&bits, &x, 4);
    uint32_t half_bits = (bits & 0x7F800000) - (24u << 23); /* 2^-24 of x's binade: x >= 2^-102 */
    float half;
    memcpy(&half, &half_bits, 4);
    f64x4 s = (double)x * scale;
    *r = (s + 0x1p52) - 0x1p52;
    f64x4 distance = (f64x4)((i64x4)(*r - s) & INT64_MAX);
    f64x4 beyond = distance - (double)half * scale; /* < 0: inside the interval */
    f64x4 margin = s * 0x1p-48;
    /* The sign of a sum is exact (rounding never crosses zero): clear of the edges when
     * margin - |beyond| < 0 in every lane, and inside where beyond + margin < 0. */
    f64x4 near_edge = margin - (f64x4)((i64x4)beyond & INT64_MAX), inside = beyond + margin;
    if (negative_lanes(&near_edge) != 0xF) return -1;
    return (int)negative_lanes(&inside);
}

/* The digit count put_general would settle on, by fits_6789's mask: the fewest of 7, 8, 9
 * that fit, where 7 counts only when 6 do not (else 0: fewer digits still, or none fit). */
static const uint8_t DIGITS[16] = {0, 0, 7, 0, 8, 8, 7, 0, 9, 9, 7, 0, 8, 8, 7, 0};

/* Eight decimal digits of n < 10^8 as ASCII in one word, first digit in the lowest byte:
 * 4 + 4 digits in the two halves, then 2 + 2 in each half, then 1 + 1 in each quarter.
 * Each multiply-shift divides every lane at once (10486 / 2^20 ~ 1/100 and 103 / 2^10 ~
 * 1/10 are exact below 10^4 and 10^2) and no lane carries into the next. */
static uint64_t eight_digits(uint32_t n) {
    uint64_t v = n / 10000 | (uint64_t)(n % 10000) << 32;
    uint64_t hundreds = ((v * 10486) >> 20) & 0x0000007F0000007FULL;
    v = hundreds | (v - hundreds * 100) << 16;
    uint64_t tens = ((v * 103) >> 10) & 0x000F000F000F000FULL;
    v = tens | (v - tens * 10) << 8;
    v |= 0x3030303030303030ULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* "e-5" .. "e-14": the exponents of the fast path's exponent form. */
static const char NEGATIVE_EXPONENT[15][4] = {"", "", "", "", "", "e-5", "e-6", "e-7", "e-8", "e-9",
                                              "e-10", "e-11", "e-12", "e-13", "e-14"};

/* The k digits of m (10^(k-1) <= m < 10^k, 7 <= k <= 9) for x = m * 10^(e+1-k), in the form
 * put_decimal picks for that e: ".000123", "123.456" or "1.23e-5". All digits are
 * written as one 9-digit block (m padded with zeros), then the pointer advances by the
 * true length: bytes past it are overwritten by what follows. */
static char *put_digits_fast(char *p, uint32_t padded, int k, int e) {
    uint32_t first = (uint32_t)(padded / 100000000);
    uint64_t rest = eight_digits((uint32_t)(padded % 100000000));
    if (e < 0 && e >= -4) { /* the common case: weights below 1 */
        memcpy(p, ".000", 4);
        p -= e;
        *p = (char)('0' + first);
        memcpy(p + 1, &rest, 8);
        return p + k;
    }
    if (e >= 0) { /* up to 6 integer digits, then the point */
        char text[16] = {(char)('0' + first)};
        memcpy(text + 1, &rest, 8);
        memcpy(p, text, 8);
        p[e + 1] = '.';
        memcpy(p + e + 2, text + e + 1, 8);
        return p + k + 1;
    }
    p[0] = (char)('0' + first);
    p[1] = '.';
    memcpy(p + 2, &rest, 8);
    p += k + 1;
    memcpy(p, NEGATIVE_EXPONENT[-e], 4);
    return p + 3 + (e <= -10);
}

/* Powers of two have a narrower rounding interval below than above. */
static int is_power_of_two(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    return (bits & 0x7FFFFF) == 0;
}

/* How to write one value the fast way, decided before any text is written (see
 * tsvfloat_format_rows); count 0 means the slow way, put_float. */
struct plan {
    uint32_t digits; /* the significant digits, padded with zeros to nine */
    int8_t count;    /* how many of them to write: 7, 8 or 9 */
    int8_t exponent; /* floor(log10 |value|) */
    uint8_t negative;
};

/* Normal values from 1e-14 to 1e6 that 7, 8 or 9 digits write: the 6..9-digit checks at
 * once, F9 - 3 .. F9 all in 0..22. Anything unusual (fewer than 7 digits, powers of two)
 * is left to put_float, which decides the same way. */
static struct plan plan_value(float value) {
    struct plan none = {0, 0, 0, 0};
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits >> 23 & 0xFF) - 1 >= 254) return none; /* zero, subnormal, infinite, NaN */
    float x = fabsf(value);
    int e = decimal_exponent(x);
    int F9 = 8 - e;
    if (F9 < 3 || F9 > 22 || is_power_of_two(x)) return none;
    f64x4 r;
    int fit = fits_6789(x, F9, &r);
    if (fit < 0) return none;
    int k = DIGITS[fit];
    if (!k) return none;
    /* m has exactly k digits, the last not 0, so put_decimal would write what
     * put_digits_fast does: 10^e <= x makes m >= 10^(k-1) (e is exact: the estimate is
     * never more than one low), and were m 10 j, j would be the k - 1 digit candidate, of
     * the same value, so k - 1 digits would fit too. */
    uint64_t m = (uint64_t)(int64_t)r[k - 6];
    struct plan plan = {(uint32_t)(m * POW10_INT[9 - k]), (int8_t)k, (int8_t)e, (uint8_t)(bits >> 31)};
    return plan;
}

static char *put_float(char *p, float value) {
    if (isnan(value)) {
        memcpy(p, "NaN", 3);
        return p + 3;
    }
    if (signbit(value)) *p++ = '-';
    float x = fabsf(value);
    if (isinf(x)) {
        memcpy(p, "Infinity", 8);
        return p + 8;
    }
    if (x == 0.0f) {
        *p++ = '0';
        return p;
    }
    return put_general(p, x);
}

static char *put_planned(char *p, struct plan plan, float value) {
    if (!plan.count) return put_float(p, value);
    *p = '-'; /* no branch for the sign */
    return put_digits_fast(p + plan.negative, plan.digits, plan.count, plan.exponent);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TSVFLOAT_BASELINE)
#include <immintrin.h>
#define AVX512_PLANS 1

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl")))

/* AVX-512 lanes holding the sign bits of v. */
AVX512 static __mmask8 negative(__m512d v) {
    return _mm512_movepi64_mask(_mm512_castpd_si512(v));
}

/* plan_value for 8 values at once, one lane each: the same arithmetic, the exponent and
 * power-of-ten lookups as gathers, and 10^(F+1) as 10^F * 10 (exact up to 10^22). */
AVX512 static void plan_8(const float *values, struct plan *plans) {
    const __m256i one = _mm256_set1_epi32(1);
    __m256i bits = _mm256_loadu_si256((const __m256i *)values);
    __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFFFFFF));
    __m256i biased = _mm256_srli_epi32(magnitude, 23);
    __mmask8 fast = _mm256_cmplt_epu32_mask(_mm256_sub_epi32(biased, one), _mm256_set1_epi32(254)) &
                    _mm256_test_epi32_mask(magnitude, _mm256_set1_epi32(0x7FFFFF)); /* normal, not 2^n */
    __m256i binary = _mm256_sub_epi32(biased, _mm256_set1_epi32(127));
    __m256i estimate = _mm256_srai_epi32(_mm256_mullo_epi32(binary, _mm256_set1_epi32(78913)), 18);
    __m512d a = _mm512_cvtps_pd(_mm256_castsi256_ps(magnitude));
    __m512d next = _mm512_i32gather_pd(_mm256_add_epi32(estimate, _mm256_set1_epi32(46)), POW10_ANY, 8);
    __m256i e = _mm256_mask_add_epi32(estimate, _mm512_cmp_pd_mask(a, next, _CMP_GE_OQ), estimate, one);
    __m256i first = _mm256_sub_epi32(_mm256_set1_epi32(5), e); /* F9 - 3 */
    fast &= _mm256_cmple_epu32_mask(first, _mm256_set1_epi32(19));
    /* Lanes left to put_float compute on harmless numbers. */
    __m256i half_bits = _mm256_sub_epi32(_mm256_and_si256(magnitude, _mm256_set1_epi32(0x7F800000)),
                                         _mm256_set1_epi32(24 << 23));
    __m512d half = _mm512_mask_cvtps_pd(_mm512_set1_pd(0x1p-24), fast, _mm256_castsi256_ps(half_bits));
    a = _mm512_mask_blend_pd(fast, _mm512_set1_pd(1), a);
    __m512d scale = _mm512_mask_i32gather_pd(_mm512_set1_pd(1), fast, first, POW10, 8);
    __m512d r[4];
    __mmask8 inside[4], unsure = 0;
    for (int j = 0; j < 4; j++) { /* 6, 7, 8 and 9 digits, as in fits_6789 */
        __m512d s = a * scale;
        r[j] = (s + 0x1p52) - 0x1p52;
        __m512d beyond = _mm512_abs_pd(r[j] - s) - half * scale;
        __m512d margin = s * 0x1p-48;
        unsure |= (__mmask8)~negative(margin - _mm512_abs_pd(beyond));
        inside[j] = negative(beyond + margin);
        scale *= 10;
    }
    __mmask8 seven = inside[1] & ~inside[0], eight = ~inside[1] & inside[2];
    __mmask8 nine = ~inside[1] & ~inside[2] & inside[3];
    fast &= ~unsure & (seven | eight | nine);
    __m512d padded = _mm512_mask_blend_pd(seven, _mm512_mask_blend_pd(eight, r[3], r[2] * 10), r[1] * 100);
    __m512i count = _mm512_mask_blend_epi64(seven, _mm512_mask_blend_epi64(eight, _mm512_set1_epi64(9),
                                                                            _mm512_set1_epi64(8)),
                                            _mm512_set1_epi64(7));
    /* struct plan as one little-endian word: digits, count, exponent, negative. */
    __m512i plan = _mm512_cvttpd_epi64(padded);
    plan = _mm512_or_si512(plan, _mm512_slli_epi64(count, 32));
    plan = _mm512_or_si512(plan, _mm512_slli_epi64(_mm512_and_si512(_mm512_cvtepi32_epi64(e),
                                                                     _mm512_set1_epi64(0xFF)), 40));
    plan = _mm512_or_si512(plan, _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_srli_epi32(bits, 31)), 48));
    _mm512_storeu_si512(plans, _mm512_maskz_mov_epi64(fast, plan));
}

AVX512 static void plan_avx512(const float *values, size_t n, struct plan *plans) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) plan_8(values + i, plans + i);
    for (; i < n; i++) plans[i] = plan_value(values[i]);
}
#endif

static void plan_baseline(const float *values, size_t n, struct plan *plans) {
    for (size_t i = 0; i < n; i++) plans[i] = plan_value(values[i]);
}

/* Values are planned a block at a time, then written: planning is long chains of
 * arithmetic and writing waits on the previous value's length, so apart they overlap
 * better across values than interleaved. */
#define BLOCK 64

typedef void plan_fn(const float *values, size_t n, struct plan *plans);

static size_t format_rows(const float *values, size_t rows, size_t dim, char *out, plan_fn *plan_block) {
    char *p = out;
    size_t total = rows * dim, column = 0;
    struct plan plans[BLOCK];
    for (size_t start = 0; start < total; start += BLOCK) {
        size_t n = total - start < BLOCK ? total - start : BLOCK;
        plan_block(values + start, n, plans);
        for (size_t i = 0; i < n; i++) {
            p = put_planned(p, plans[i], values[start + i]);
            column++;
            *p++ = column < dim ? '\t' : '\n';
            column = column < dim ? column : 0;
        }
    }
    return (size_t)(p - out);
}

/* Rows of `dim` values, tab-separated, each ending in a newline. `out` must hold
 * tsvfloat_max_bytes() per value. Returns the bytes written. */
size_t tsvfloat_format_rows(const float *values, size_t rows, size_t dim, char *out) {
#ifdef AVX512_PLANS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return format_rows(values, rows, dim, out, plan_avx512);
#endif
    return format_rows(values, rows, dim, out, plan_baseline);
}

/* The same text without the AVX-512 planner, whatever the CPU: for tests. */
size_t tsvfloat_format_rows_baseline(const float *values, size_t rows, size_t dim, char *out) {
    return format_rows(values, rows, dim, out, plan_baseline);
}

/* Room per value and separator: the positional form is written only when it is no longer
 * than the exponent form, and "-1.23456789e-45" (the longest of those) is 15 bytes. */
size_t tsvfloat_max_bytes(void) { return 32; }
