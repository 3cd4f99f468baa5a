# SPDX-License-Identifier: MIT
"""Builds s6scan_torch: the s6scan operators for PyTorch.

    pip install --no-build-isolation ./examples/pytorch

--no-build-isolation lets the build use the torch already installed (the extension must be built
against the torch it will run with). The headers come from this checkout's include/, or from
S6SCAN_INCLUDE_DIR (for example an installed prefix's include/). The architectures are torch's
choice (TORCH_CUDA_ARCH_LIST, else the visible GPUs); without a visible GPU they default to 9.0.
MAX_JOBS bounds the parallel compiles (one per source file).
"""

import os
import shlex
import subprocess
import sysconfig
from pathlib import Path

from setuptools import setup

import torch
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

here = Path(__file__).resolve().parent
include = Path(os.environ.get("S6SCAN_INCLUDE_DIR", here.parent.parent / "include")).resolve()
if not (include / "s6scan" / "s6scan.cuh").is_file():
    raise SystemExit(f"s6scan headers not found under {include}; set S6SCAN_INCLUDE_DIR")
if torch.version.cuda is None:
    raise SystemExit(f"torch {torch.__version__} was built without CUDA; s6scan_torch needs a CUDA build of torch")
if "TORCH_CUDA_ARCH_LIST" not in os.environ and not torch.cuda.is_available():
    print("s6scan_torch: no GPU visible and TORCH_CUDA_ARCH_LIST unset; building for 9.0")
    os.environ["TORCH_CUDA_ARCH_LIST"] = "9.0"

# A compiler that links libstdc++ statically (one whose own shared libstdc++ is missing) puts a
# second copy of the C++ runtime beside torch's; the two copies' locale tables disagree, and the
# extension crashes formatting a number for an error message (seen: a GCC under /opt/gcc with only
# libstdc++.a). Refuse it here rather than crash later.
cxx = shlex.split(os.environ.get("CXX") or sysconfig.get_config_var("CXX") or "c++")
try:
    libstdcxx = subprocess.run(cxx + ["-print-file-name=libstdc++.so"], capture_output=True, text=True).stdout.strip()
except OSError:
    libstdcxx = ""
if libstdcxx == "libstdc++.so":  # the compiler did not find it
    raise SystemExit(f"{' '.join(cxx)} has no shared libstdc++ (-print-file-name=libstdc++.so finds nothing), so the "
                     "extension would carry a static copy beside torch's and crash; set CXX (and CC) to a compiler "
                     "that has one, e.g. CXX=/usr/bin/g++ CC=/usr/bin/gcc")

# The version is the headers' (version.hpp's three defines).
defines = dict(line.split()[1:3] for line in (include / "s6scan" / "version.hpp").read_text().splitlines()
               if line.startswith("#define S6SCAN_VERSION_"))
version = ".".join(defines[f"S6SCAN_VERSION_{p}"] for p in ("MAJOR", "MINOR", "PATCH"))

# Relative paths: setuptools wants sources inside the project folder.
sources = ["csrc/extension.cpp"] + sorted(str(p.relative_to(here)) for p in (here / "csrc").glob("types_*.cu"))

setup(
    name="s6scan_torch",
    version=version,
    description="s6scan's selective scan as PyTorch operators",
    packages=["s6scan_torch"],
    package_dir={"": "src"},
    ext_modules=[
        CUDAExtension(
            "s6scan_torch._C",
            sources,
            include_dirs=[str(include), str(here / "csrc")],
            extra_compile_args={"cxx": ["-O2"], "nvcc": ["-O3"]},  # torch picks the C++ standard
        )
    ],
    cmdclass={"build_ext": BuildExtension},
)
