/* verdict.c - the verdict rule of `sparsebench claims` (issue 13 §2): one
 * interval against a claimed range, and a claim over a series of points. The
 * text the report prints and the code below say the same thing; the tests
 * (tests/check_claims.c) hold the code to it on synthetic inputs. */
#include "claims.h"

#include <math.h>

const char claim_rule_text[] =
    "**Verdict rule.** Each claim names a range (for example 2-6x), a factor to reach "
    "(\"78x\": at or above 78) or a bound (\"at most\"). Our number is a median of paired "
    "ratios with its 95 % interval, or an exact count (an interval of one point).\n"
    "- **reproduced**: the interval lies inside the claimed range, or at or above the "
    "claimed factor;\n"
    "- **partly**: the interval overlaps the range; or, for a claim over several points "
    "(batch sizes, scales), it holds at some points and not at others (the reason says "
    "which);\n"
    "- **not reproduced**: the interval lies entirely outside the range, at every point;\n"
    "- **not testable here**: the claim needs what this suite cannot measure (model "
    "quality, a GPU, PyTorch), or its points are missing, skipped or failed (the reason "
    "says which).\n";

const char *claim_verdict_name(enum claim_verdict v)
{
    switch (v) {
    case CLAIM_REPRODUCED:
        return "reproduced";
    case CLAIM_PARTLY:
        return "partly";
    case CLAIM_NOT_REPRODUCED:
        return "not reproduced";
    case CLAIM_NOT_TESTABLE:
        break;
    }
    return "not testable here";
}

enum claim_verdict claim_verdict_interval(double lo, double hi, double claim_lo, double claim_hi)
{
    if (isnan(lo) || isnan(hi) || isnan(claim_lo) || isnan(claim_hi))
        return CLAIM_NOT_TESTABLE;
    if (lo > hi) { /* an interval handed over reversed is still the same set */
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (lo >= claim_lo && hi <= claim_hi)
        return CLAIM_REPRODUCED;
    if (hi < claim_lo || lo > claim_hi)
        return CLAIM_NOT_REPRODUCED;
    return CLAIM_PARTLY;
}

enum claim_verdict claim_verdict_series(const enum claim_verdict *v, size_t n)
{
    size_t testable = 0, yes = 0, part = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == CLAIM_NOT_TESTABLE)
            continue;
        testable++;
        yes += v[i] == CLAIM_REPRODUCED;
        part += v[i] == CLAIM_PARTLY;
    }
    if (!testable)
        return CLAIM_NOT_TESTABLE;
    if (yes == testable)
        return CLAIM_REPRODUCED;
    if (!yes && !part)
        return CLAIM_NOT_REPRODUCED;
    return CLAIM_PARTLY;
}
