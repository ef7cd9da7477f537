/* OpenMP's thread queries, or a single thread where the compiler has no OpenMP (Apple's
 * clang without libomp): the kernels' parallel loops then run serially, same results. */
#ifndef PALETTEPRESS_OMP_H
#define PALETTEPRESS_OMP_H
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline void omp_set_num_threads(int n) { (void)n; }
#endif
#endif
