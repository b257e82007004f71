"""LIME, SHAP and exact linear attributions over the words of a post, for any Classifier."""
from .cache import ExplanationCache
from .engine import DEFAULT_MAX_UNITS, EXPLAINERS, METHODS, ExplainSettings, explain
from .faithfulness import THRESHOLDS, faithfulness, rank_agreement
from .result import Explanation
from .units import Units

__all__ = ["explain", "Explanation", "ExplanationCache", "faithfulness", "rank_agreement", "Units", "METHODS",
           "DEFAULT_MAX_UNITS", "THRESHOLDS",
           "ExplainSettings", "EXPLAINERS"]
