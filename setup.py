"""Build the compiled kernels (Cython + OpenMP) of palettepress."""

import os
import sys
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup



def _libomp_prefix():
    """Where LLVM's OpenMP runtime is installed on macOS (Homebrew's ``libomp``, or
    ``LIBOMP_PREFIX``), or None: Apple's clang ships none."""
    candidates = [os.environ.get("LIBOMP_PREFIX"), "/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
    for prefix in filter(None, candidates):
        if (Path(prefix) / "include" / "omp.h").exists():
            return prefix
    return None


if os.environ.get("PALETTEPRESS_NO_OPENMP"):  # the serial build, as without OpenMP
    openmp_compile, openmp_link = [], []
elif sys.platform == "win32":
    openmp_compile, openmp_link = ["/openmp"], []
elif sys.platform == "darwin":
    omp = _libomp_prefix()
    if omp:  # the wheel then carries libomp (delocate)
        openmp_compile = ["-Xpreprocessor", "-fopenmp", f"-I{omp}/include"]
        openmp_link = [f"-L{omp}/lib", "-lomp"]
    else:
        openmp_compile, openmp_link = [], []  # no OpenMP: the kernels run serially
else:
    openmp_compile, openmp_link = ["-fopenmp"], ["-fopenmp"]

# -fno-math-errno: the kernels never read errno, and without it GCC keeps every square root
# a call (for errno's sake) that no loop around it can vectorise. It changes no value.
extensions = [
    Extension(
        "palettepress._kernels",
        ["src/palettepress/_kernels.pyx"],
        language="c++",
        include_dirs=[numpy.get_include(), "src/palettepress"],
        depends=["src/palettepress/_simd.h", "src/palettepress/_omp.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=(
            ["-O3", "-fno-math-errno", *openmp_compile] if sys.platform != "win32" else openmp_compile
        ),
        extra_link_args=openmp_link,
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
