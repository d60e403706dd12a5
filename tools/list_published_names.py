"""List the public names of the published deepSTRF 0.1.0 (for docs/migration.md and its test).

Run with an interpreter where the published wheel is installed, without this repository on
``PYTHONPATH``::

    /path/to/published-venv/bin/python tools/list_published_names.py tests/data/published_names.json

A public name is a class or function defined in a module of the package whose path has no
part starting with ``_`` (plus that module's upper-case constants); modules re-exporting a
name do not count it again. Optional dependencies that the published modules import at
the top (pandas, h5py, ...) are replaced by empty stand-ins, since only names are read.
"""

# ruff: noqa
import importlib, pkgutil, sys, types, inspect, warnings, json

warnings.filterwarnings("ignore")
pl = types.ModuleType("pytorch_lightning")
u = types.ModuleType("pytorch_lightning.utilities")
u.rank_zero_only = lambda f: f
pl.utilities = u
sys.modules["pytorch_lightning"] = pl
sys.modules["pytorch_lightning.utilities"] = u


class _Stub(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")

    def __call__(self, *a, **k):
        return _Stub("call")


import importlib.abc, importlib.machinery


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    ROOTS = {
        "pandas",
        "h5py",
        "mne",
        "scipy.io.matlab",
        "soundfile",
        "pynwb",
        "cv2",
        "torchvision",
        "av",
        "librosa",
        "requests_toolbelt",
        "openpyxl",
    }

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.ROOTS:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        return _Stub(spec.name)

    def exec_module(self, module):
        module.__path__ = []


sys.meta_path.insert(0, _Finder())
import deepSTRF

out = {}
for m in pkgutil.walk_packages(deepSTRF.__path__, "deepSTRF."):
    if any(p.startswith("_") for p in m.name.split(".")[1:]):
        continue
    try:
        mod = importlib.import_module(m.name)
    except Exception as e:
        print("FAIL", m.name, e, file=sys.stderr)
        continue
    names = []
    for n, v in vars(mod).items():
        if n.startswith("_") or isinstance(v, types.ModuleType):
            continue
        if getattr(v, "__module__", None) == m.name and (inspect.isclass(v) or inspect.isfunction(v)):
            names.append(n)
        elif not (inspect.isclass(v) or inspect.isfunction(v)) and n.isupper() and m.name == getattr(mod, "__name__"):
            names.append(n)
    if names:
        out[m.name] = sorted(set(names))
json.dump(out, open(sys.argv[1], "w"), indent=1)
open(sys.argv[1], "a").write("\n")
print(sum(len(v) for v in out.values()), len(out))
