"""The reference trainer: an MLP for binary classification of tabular features.

Run it as ``python -m trainer --train=... --val=...``; it speaks Vertex AI's trial protocol
(``AIP_MODEL_DIR``, ``CLOUD_ML_HP_METRIC_FILE``, cloudml-hypertune reports).
"""
