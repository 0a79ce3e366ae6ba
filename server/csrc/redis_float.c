/* Redis 7.0's number parsing and printing that depends on C's `long double` (80-bit on
 * x86-64), which Rust does not have: INCRBYFLOAT and HINCRBYFLOAT compute and print in long
 * double, and their replies must match Redis digit for digit. Ported from Redis util.c
 * (string2ld, ld2string LD_STR_HUMAN, string2d). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

static int string2ld(const char *s, size_t slen, long double *dp) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    long double value;
    char *eptr;
    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' || (size_t)(eptr - buf) != slen ||
        ((errno == ERANGE || errno == EINVAL) &&
         (value == HUGE_VAL || value == -HUGE_VAL || fpclassify(value) == FP_ZERO)) ||
        isnan(value))
        return 0;
    if (dp) *dp = value;
    return 1;
}

/* LD_STR_HUMAN: "%.17Lf" with the trailing zeroes (and a trailing dot) removed. */
static int ld2string_human(char *buf, size_t len, long double value) {
    int l;
    if (isinf(value)) {
        if (len < 5) return 0;
        if (value > 0) { memcpy(buf, "inf", 3); l = 3; }
        else { memcpy(buf, "-inf", 4); l = 4; }
        return l;
    }
    l = snprintf(buf, len, "%.17Lf", value);
    if (l < 0 || (size_t)l + 1 > len) return 0;
    if (strchr(buf, '.') != NULL) {
        char *p = buf + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') { buf[0] = '0'; l = 1; }
    return l;
}

/* Returns the length written to `out`, or -1 (current value not a float), -2 (increment not
 * a float), -3 (result NaN or infinite), -4 (formatting failed). */
int redrock_incr_long_double(const char *current, size_t current_len, int has_current,
                             const char *incr, size_t incr_len, char *out, size_t out_len) {
    long double value = 0, increment;
    if (has_current && !string2ld(current, current_len, &value)) return -1;
    if (!string2ld(incr, incr_len, &increment)) return -2;
    value += increment;
    if (isnan(value) || isinf(value)) return -3;
    int l = ld2string_human(out, out_len, value);
    return l == 0 ? -4 : l;
}

/* Redis's string2d: strtod over the whole buffer, no leading space, no NaN, no overflow.
 * Returns 1 and sets *out on success. */
int redrock_string2d(const char *s, size_t slen, double *out) {
    char stack[128];
    char *buf = slen < sizeof(stack) ? stack : malloc(slen + 1);
    char *eptr;
    int ok;
    double value;
    if (buf == NULL) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    value = strtod(buf, &eptr);
    ok = !(slen == 0 || isspace((unsigned char)buf[0]) || (size_t)(eptr - buf) != slen ||
           (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL || fpclassify(value) == FP_ZERO)) ||
           isnan(value));
    if (buf != stack) free(buf);
    if (ok) *out = value;
    return ok;
}

/* Redis 7.0.15's getTimeoutFromObjectOrReply (UNIT_SECONDS): string2ld, then
 * `(long long)ceill(ftval * 1000.0)` in long double (rounding up, so 0.001 is 1 ms, not
 * "forever"; -0.001 rounds up to 0, forever). An out-of-range conversion is what x86-64
 * gives Redis too (LLONG_MIN, hence "timeout is negative" for inf or 1e400). Returns 1 and
 * sets *out_ms when the argument is a number. */
int redrock_seconds_to_ms(const char *s, size_t slen, long long *out_ms) {
    long double seconds;
    if (!string2ld(s, slen, &seconds)) return 0;
    *out_ms = (long long)ceill(seconds * 1000.0);
    return 1;
}
