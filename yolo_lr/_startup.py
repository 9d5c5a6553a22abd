"""Run code right after a named module finishes importing, without importing anything to do so.

The ``yolo_lr.pth`` startup hook imports ``yolo_lr``, and so this module, in every Python process of an environment
where the plugin is installed, so it must cost next to nothing: it uses ``sys`` only (no ``importlib.abc``, no
``functools``, no ``dataclasses``) and imports nothing of the plugin. :func:`yolo_lr.install` uses it to run the
registration the moment ``ultralytics.utils`` has loaded. Processes that never import Ultralytics pay for one dict
lookup per import.
"""

import sys

_PENDING = {}  # module name -> [action(module), ...]


def when_imported(name, ready_attr, action):
    """Call ``action(module)`` once module ``name`` has finished executing: now if it has, else right after it does.

    Returns:
        False when the module is half-imported (it is executing right now, so it can no longer be intercepted and the
        action did not run), True otherwise.
    """
    module = sys.modules.get(name)
    if module is not None:
        if not hasattr(module, ready_attr):
            return False
        action(module)
        return True
    actions = _PENDING.setdefault(name, [])
    if action not in actions:
        actions.append(action)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return True


def cancel():
    """Forget every pending action and leave ``sys.meta_path`` as it was."""
    _PENDING.clear()
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


class _PostImportFinder:
    """A ``sys.meta_path`` finder that never finds anything itself: for a watched module it asks the other finders
    for the real spec and wraps its loader so the pending actions run after the module's code."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PENDING:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            # the actions are taken when the module executes, not here: importlib.util.find_spec asks for a spec
            # without executing it, and the module's real import must still find them pending
            spec.loader = _RunAfterLoader(spec.loader, fullname)
        return spec


class _RunAfterLoader:
    """The real loader, plus the module's pending actions, run once it has executed."""

    def __init__(self, loader, name):
        self._loader, self._name = loader, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        actions = _PENDING.pop(self._name, [])
        if not _PENDING and _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        for action in actions:
            action(module)

    def __getattr__(self, name):  # get_code, get_source, is_package, ... for tools that ask the loader
        return getattr(self._loader, name)


_FINDER = _PostImportFinder()
