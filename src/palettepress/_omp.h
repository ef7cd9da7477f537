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

/* The next of a shared counter's values, each handed to one thread only: the work of a
 * parallel region that threads take as they come free (a worksharing loop's threads
 * would wait for one another to start it). */
static inline long pp_take(long *next)
{
    long mine;
#ifdef _OPENMP
#pragma omp critical(pp_take)
#endif
    {
        mine = (*next)++;
    }
    return mine;
}
#endif
