"""LIME, SHAP and exact linear attributions over the words of a post, for any Classifier."""
from mhexplain.explain.cache import ExplanationCache
from mhexplain.explain.engine import DEFAULT_MAX_UNITS, EXPLAINERS, METHODS, ExplainSettings, explain
from mhexplain.explain.faithfulness import THRESHOLDS, faithfulness, rank_agreement
from mhexplain.explain.result import Explanation
from mhexplain.explain.units import Units

__all__ = ["explain", "Explanation", "ExplanationCache", "faithfulness", "rank_agreement", "Units", "METHODS",
           "DEFAULT_MAX_UNITS", "THRESHOLDS",
           "ExplainSettings", "EXPLAINERS"]
