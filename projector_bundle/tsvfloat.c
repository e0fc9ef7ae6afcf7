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

static int count_digits(uint64_t m) {
    int n = 1;
    while (m >= 10) {
        m /= 10;
        n++;
    }
    return n;
}

/* The digits of m, right to left, ending just before `end`. */
static void put_digits(char *end, uint64_t m, int n) {
    while (n-- > 0) {
        *--end = (char)('0' + m % 10);
        m /= 10;
    }
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
        put_digits(p + int_digits, m / (uint64_t)POW10[F < 19 ? F : 19], int_digits);
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
    int binary = (int)(bits >> 23) - 127; /* subnormals read low: one more digit tried, same result */
    int e = (binary * 78913) >> 18;
    if (e + 1 >= 0 && e + 1 <= 22 ? a >= POW10[e + 1] : e + 1 < 0 && e + 1 >= -22 && a * POW10[-(e + 1)] >= 1.0) e++;
    uint64_t m, best_m = 0;
    int best_F = 0, found = 0;
    for (int k = 8; k >= 1; k--) { /* random weights mostly need 8 or 9 digits */
        int F = k - 1 - e;
        if (F < -22 || F > 22 || !fits(a, x, F, &m)) break;
        best_m = m, best_F = F, found = 1;
    }
    if (!found) {
        int F = 8 - e;
        if (F < -22 || F > 22 || !fits(a, x, F, &m)) return put_slow(p, a, x);
        best_m = m, best_F = F;
    }
    return put_decimal(p, best_m, best_F);
}

/* Rows of `dim` values, tab-separated, each ending in a newline. `out` must hold
 * TSVFLOAT_MAX_BYTES per value. Returns the bytes written. */
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

/* The longest value: "-" + 22 fraction digits + "." is 24; "-1.23456789e-45" is 15. */
size_t tsvfloat_max_bytes(void) { return 32; }
