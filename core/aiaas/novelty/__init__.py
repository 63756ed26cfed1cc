"""Answers that know their limits: input checks (out-of-distribution detectors).

Each check is a record (``aiaas.InputCheck``) a plugin registers, like an explainer:
the core offers general detectors to every task of a modality (a value outside the
training range, words the training texts never had, a colour image for a grayscale
model, a distance in the model's own feature space), and a vertical adds domain
checks for its task (a DICOM that is not a radiograph). Training fits every check
on the training split and calibrates them together on validation, so about 1% of
ordinary inputs are flagged; the fitted state is saved with the model (JSON and
safetensors). Serving gives each answer an ``input_check``: whether the input looks
like the training data, a novelty score, the threshold and the reasons.
"""
