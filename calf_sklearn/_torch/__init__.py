"""The torch layer: networks, losses and their training, knowing nothing of scikit-learn.

``backbone`` (loading or building the language model), ``vocabulary`` (the principal-word
cache), ``calf_model`` (both built for a fit), ``devices`` (which device), ``network`` (CALF's dual-branch network), ``branches`` (the surgery that makes the
backbone its two branches), ``export`` (the saved form of an inference-only network),
``inference`` (forecasting stacks of windows), ``losses``, ``precision`` (mixed precision
and device placement), ``compiled`` (torch.compile for forecasting), ``transfer`` (host to
device copies), ``seeding`` (seeding a fit without disturbing the caller), ``dlinear`` (the
DLinear network) and ``training`` (the one training loop, a step per model, checkpoints).
Nothing here imports torch at package import: ``import calf_sklearn`` stays light.
"""
