"""The torch layer: networks, losses and their training, knowing nothing of scikit-learn.

``backbone`` (loading or building the language model), ``vocabulary`` (the principal-word
cache), ``network`` (CALF's dual-branch network), ``losses``, ``precision`` (mixed precision
and device placement), ``compiled`` (torch.compile for forecasting), ``transfer`` (host to
device copies), ``dlinear`` (the DLinear network) and ``training`` (the training loop).
Nothing here imports torch at package import: ``import calf_sklearn`` stays light.
"""
