"""Build the compiled kernels (Cython + OpenMP) of palettepress."""

import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    openmp_compile, openmp_link = ["/openmp"], []
elif sys.platform == "darwin":
    openmp_compile, openmp_link = [], []  # Apple clang ships no OpenMP; kernels run serially
else:
    openmp_compile, openmp_link = ["-fopenmp"], ["-fopenmp"]

extensions = [
    Extension(
        "palettepress._kernels",
        ["src/palettepress/_kernels.pyx"],
        language="c++",
        include_dirs=[numpy.get_include(), "src/palettepress"],
        depends=["src/palettepress/_simd.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", *openmp_compile] if sys.platform != "win32" else openmp_compile,
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
