"""Tools on top of the core: what a user runs around a training, never part of one.

- :mod:`yolo_lr.tools.cli`: the ``yolo-lr`` command (presets, previews, ``train``/``val``, ``find``, ``sweep``);
- :mod:`yolo_lr.tools.find`: the standalone LR finder (``yolo-lr find``, :func:`yolo_lr.find_lr`) on the range-test
  engine of :mod:`yolo_lr.finder`;
- :mod:`yolo_lr.tools.sweep`: the lr0 sweep (``yolo-lr sweep``, :func:`yolo_lr.sweep`).

The dependency rule: tools import the core (``yolo_lr.*``), the core never imports ``yolo_lr.tools`` (what runs inside
a training, the startup hook included, works without this subpackage); ``tests/test_layout.py`` checks it.
"""
