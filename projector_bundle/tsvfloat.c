/* Shortest exact text for float32 matrices, as rows of a vectors TSV.
 *
 * Each value is written with the fewest significant digits whose decimal parses
 * back to the same float32 the way the projector parses it: decimal -> nearest
 * float64 (JavaScript's Number) -> nearest float32 (Float32Array). The check is
 * exact: m and 10^F are exact doubles for |F| <= 22, so the IEEE quotient (or
 * product) m / 10^F is the correctly rounded value of the decimal m * 10^-F.
 * Values outside that range go through printf/strtod, which glibc rounds
 * correctly too. Numbers below 1 drop the leading zero (".0123"), which
 * JavaScript's Number() and Python's float() both accept.
 *
 * Built on first use by projector_bundle/tsvfloat.py; must not be compiled with
 * -ffast-math, which would break the exact checks.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    double a = (double)x;
    /* The decimal exponent from the binary one (78913 / 2^18 ~ log10 2), corrected once;
     * an estimate one too low costs a digit, never exactness. */
    uint32_t bits;
    memcpy(&bits, &x, 4);
    int binary = (int)(bits >> 23) - 127; /* subnormals read as 2^-127: their F is out of range, so put_slow */
    int e = (binary * 78913) >> 18;
    e += a >= POW10_ANY[e + 1 + 45];
    /* 7, 8 and 9 digits are checked together, without branches between them: which one
     * suffices is close to random for trained or random weights, so branches would mispredict. */
    int F9 = 8 - e;
    if (F9 - 2 < -22 || F9 > 22) return put_slow(p, a, x);
    uint64_t m7, m8, m9;
    int ok7 = fits(a, x, F9 - 2, &m7), ok8 = fits(a, x, F9 - 1, &m8), ok9 = fits(a, x, F9, &m9);
    uint64_t best_m = ok8 ? m8 : m9;
    int best_F = ok8 ? F9 - 1 : F9;
    if (ok7) { /* rare: look for fewer digits still */
        best_m = m7, best_F = F9 - 2;
        uint64_t m;
        for (int F = F9 - 3; F >= F9 - 8 && F >= -22 && fits(a, x, F, &m); F--) best_m = m, best_F = F;
    } else if (!ok8 && !ok9) {
        return put_slow(p, a, x);
    }
    return put_decimal(p, best_m, best_F);
}

/* Rows of `dim` values, tab-separated, each ending in a newline. `out` must hold
 * tsvfloat_max_bytes() per value. Returns the bytes written. */
size_t tsvfloat_format_rows(const float *values, size_t rows, size_t dim, char *out) {
    char *p = out;
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < dim; j++) {
            p = put_float(p, values[i * dim + j]);
            *p++ = j + 1 < dim ? '\t' : '\n';
        }
    }
    return (size_t)(p - out);
}

/* Room per value and separator: the positional form is written only when it is no longer
 * than the exponent form, and "-1.23456789e-45" (the longest of those) is 15 bytes. */
size_t tsvfloat_max_bytes(void) { return 32; }
