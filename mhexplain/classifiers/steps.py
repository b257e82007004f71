"""The step names of every saved classical pipeline: written by training, read by the classifier
and by the exact linear explanations."""

PREPROCESS_STEP, TFIDF_STEP, CLASSIFIER_STEP = "preprocess", "tfidf", "clf"
