/*
 * Checks the front end's rounded square root (frontend.c, compiled with
 * -DEK_FRONTEND_TEST_HOOKS) against its definition, computed here by
 * bisection: r = floor(sqrt(x)); r + 1 when x - r^2 > r, except when r is
 * 0xFFFF (x < 2^32) or 0xFFFFFFFF (x >= 2^32).
 *
 * usage: sqrt_main LIMIT   -- every x < LIMIT, then x = k^2 + d and
 * k^2 + 2k + d (d in -2..2) for every k < 2^16 and for 10^6 pseudo-random
 * 64-bit k, then the top of the range.  Prints "ok N" or the first failures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

uint32_t ek_frontend_test_sqrt(uint64_t x);

static uint64_t floor_sqrt(uint64_t x)
{
    uint64_t lo = 0, hi = 0xFFFFFFFFu;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo + 1) / 2;
        if (mid * mid <= x) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

static uint32_t want(uint64_t x, uint64_t r)
{
    const uint64_t cap = (x >> 32) ? 0xFFFFFFFFu : 0xFFFFu;
    return (uint32_t)((x - r * r > r && r != cap) ? r + 1 : r);
}

static unsigned long checked, bad;

static void check(uint64_t x, uint64_t r)
{
    const uint32_t got = ek_frontend_test_sqrt(x);
    ++checked;
    if (got != want(x, r) && bad++ < 10) {
        printf("x=%llu got %lu want %lu\n", (unsigned long long)x, (unsigned long)got,
               (unsigned long)want(x, r));
    }
}

static void around_square(uint64_t k)
{
    int d;
    for (d = -2; d <= 2; ++d) {
        const uint64_t x = k * k + (uint64_t)(int64_t)d;
        if (!(k == 0 && d < 0)) {
            check(x, floor_sqrt(x));
        }
        if (k < 0xFFFFFFFFu) {
            const uint64_t y = k * k + 2 * k + (uint64_t)(int64_t)d;
            check(y, floor_sqrt(y));
        }
    }
}

int main(int argc, char **argv)
{
    const uint64_t limit = argc > 1 ? strtoull(argv[1], NULL, 0) : 0;
    const uint64_t top[] = {0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFE00000001ull, 0xFFFFFFFE00000000ull,
                            0x100000000ull, 0xFFFFFFFFull, 0xFFFE0001ull, 0xFFFE0000ull};
    uint64_t x, r = 0, s = 88172645463325252ull;
    long i;
    for (x = 0; x < limit; ++x) {
        while ((r + 1) * (r + 1) <= x) {
            ++r;
        }
        check(x, r);
    }
    for (x = 0; x < 65536; ++x) {
        around_square(x);
    }
    for (i = 0; i < 1000000; ++i) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        around_square(floor_sqrt(s >> (s & 63)));
    }
    for (i = 0; i < (long)(sizeof(top) / sizeof(top[0])); ++i) {
        check(top[i], floor_sqrt(top[i]));
    }
    if (bad != 0) {
        printf("%lu of %lu wrong\n", bad, checked);
        return 1;
    }
    printf("ok %lu\n", checked);
    return 0;
}
