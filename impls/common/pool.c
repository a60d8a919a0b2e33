/* pool.c - a fixed set of worker threads for the layers' own kernels.
 *
 * Not OpenMP: libgomp's idle workers spin without yielding and steal the
 * core OpenBLAS's threads need next. These workers spin for up to SPIN_NS
 * after a job, yielding the core to any runnable thread, then sleep on a
 * condition variable. The spin matters for fairness: OpenBLAS's own workers
 * spin between calls, so a pool that slept at once would pay a ~60 us wake-up
 * (measured in this VM) on every forward that the dense baseline never pays.
 * The caller is worker 0 and tasks are claimed with one atomic counter, so
 * uneven tasks balance themselves.
 */
#include "common.h"
#include "../layer.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define SPIN_NS 2000000 /* 2 ms */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct common_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    common_pool_fn fn;
    void *arg;
    size_t n_tasks;
    atomic_size_t next;
    atomic_int pending; /* workers still inside the current job */
    atomic_uint gen;    /* bumped once per job */
    atomic_int stop;
};

struct worker_start {
    struct common_pool *pool;
    int id;
};

static void run_tasks(struct common_pool *p, int id)
{
    size_t t;
    while ((t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed)) < p->n_tasks)
        p->fn(p->arg, t, id);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned wait_for_job(struct common_pool *p, unsigned seen)
{
    int64_t until = now_ns() + SPIN_NS;
    for (unsigned i = 1;; i++) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop))
            return g;
        cpu_relax();
        if (i % 64 == 0) {
            sched_yield();
            if (now_ns() > until)
                break;
        }
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return atomic_load_explicit(&p->gen, memory_order_acquire);
}

static void *worker_main(void *arg)
{
    struct worker_start ws = *(struct worker_start *)arg;
    struct common_pool *p = ws.pool;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        run_tasks(p, ws.id);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

int common_pool_create(struct common_pool **out, int threads)
{
    struct common_pool *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (!p)
        return LAYER_ENOMEM;
    p->threads = threads < 1 ? 1 : threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (p->threads > 1) {
        p->tids = calloc((size_t)p->threads, sizeof(*p->tids));
        if (!p->tids)
            goto out_free_pool;
        for (int i = 1; i < p->threads; i++) {
            struct worker_start *ws = malloc(sizeof(*ws));
            if (ws) {
                ws->pool = p;
                ws->id = i;
            }
            if (!ws || pthread_create(&p->tids[i], NULL, worker_main, ws) != 0) {
                free(ws);
                p->threads = i; /* destroy joins the ones that started */
                common_pool_destroy(p);
                return LAYER_ETHREAD;
            }
        }
    }
    *out = p;
    return LAYER_OK;

out_free_pool:
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return LAYER_ENOMEM;
}

void common_pool_destroy(struct common_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++)
        pthread_join(p->tids[i], NULL);
    free(p->tids);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int common_pool_threads(const struct common_pool *p)
{
    return p ? p->threads : 1;
}

void common_pool_run(struct common_pool *p, size_t n_tasks, common_pool_fn fn, void *arg)
{
    if (!p || p->threads == 1 || n_tasks <= 1) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    /* Yield now and then: when the other core is busy, a woken worker may be
     * queued on this very core and would otherwise wait a whole time slice. */
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0)
            sched_yield();
    }
}
