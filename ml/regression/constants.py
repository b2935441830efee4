"""The seed's choices for Section C, named, and the options every regression module shares."""

from __future__ import annotations

from dap.contract import RISK_LEVELS as RISK_LEVELS  # DARA grades, reference level first

REPORT_N_OFFENDERS = 145_392  # offenders in the seed-000 data set (§3.1)
REPORT_MIN_OFFENDERS = 200  # Figure 12's filter: "committed by 200 or more offenders"
DEFAULT_ALPHA = 0.05  # the report's significance level
HIGH_HARM_THRESHOLD = 500  # "reaching total DA severity of 500" (roughly one indecent assault on a female)
OUTCOME = "total_da_severity"

# Published tables filter on the Benjamini–Hochberg q-value (600+ offence codes are tested at once); the
# raw p-value is printed beside it. ``p_value`` reproduces the report's own filter.
DEFAULT_SIGNIFICANCE = "q_value"
SIGNIFICANCE_COLUMNS = ("q_value", "p_value")

# "HC3max" takes, term by term, the larger of HC3 and classical: robust standard errors are biased down for
# rare indicators when the outcome is skewed (few offenders carry the term, and its HC3 variance comes from
# their residuals alone), and the larger of the two guards against that (Angrist & Pischke, MHE §8.2).
SE_TYPES = ("HC3", "HC3max", "HC1", "HC0", "nonrobust")
SENSITIVITY_FAMILIES = ("tweedie", "log1p", "both", "none")

# What each model is for (``role`` in analytics.regression_model_fit and regression_results).
ROLE_HEADLINE = "headline"  # the report's model: unadjusted, every non-DA offence in the history
ROLE_ADJUSTED = "sensitivity: non-DA volume"  # the same terms at the same non-DA volume (step function)
ROLE_HEAVY_TAIL = "sensitivity: heavy tail"  # log1p OLS and Tweedie GLM of the headline design
ROLE_TIME_ORDERED = "time-ordered"  # non-DA offences before the first DA incident, exposure term
ROLE_RISK = "risk assessment"  # the first-grade and share-high models


def scaled_min_offenders(
    n_offenders: int, base: int = REPORT_MIN_OFFENDERS, base_n: int = REPORT_N_OFFENDERS, floor: int = 5
) -> int:
    """The report's "200 or more offenders" rescaled to a data set of ``n_offenders`` (never below ``floor``,
    which is also the small-cell threshold of published tables)."""
    return max(int(floor), int(round(base * n_offenders / base_n)))
