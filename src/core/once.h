/*
 * Run-once initialization: pthread_once, or a plain flag in a build without
 * threads (TFM_NO_THREADS), where no two threads can race.
 */
#ifndef TFM_ONCE_H
#define TFM_ONCE_H

#ifndef TFM_NO_THREADS
#include <pthread.h>
typedef pthread_once_t tfm__once_t;
#define TFM__ONCE_INIT PTHREAD_ONCE_INIT
#define tfm__call_once(flag, fn) ((void)pthread_once((flag), (fn)))
#else
typedef int tfm__once_t;
#define TFM__ONCE_INIT 0
#define tfm__call_once(flag, fn) \
    do { if (!*(flag)) { (fn)(); *(flag) = 1; } } while (0)
#endif

#endif /* TFM_ONCE_H */
