/* workpool: fixed thread pool with completions posted back to the
 * submitting loop (see workpool.h). A plain mutex + condition variable
 * FIFO: jobs are few and each is long (milliseconds), so the queue lock
 * is never the bottleneck. */
#include "net/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct work_job {
	struct work_job *next;
	struct loop *reply_loop;
	loop_fn *work;
	loop_fn *done;
	void *ctx;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work_job *head, *tail; /* guarded by lock */
	size_t queued;                /* guarded by lock */
	size_t busy;                  /* jobs queued or running; guarded by lock */
	pthread_cond_t idle;          /* signalled when busy drops to 0 */
	bool stopping;                /* guarded by lock */
	pthread_t *threads;
	unsigned nthreads;
	int nice; /* each thread's nice value (background pools) */
};

static struct work_job *workpool_take(struct workpool *pool)
{
	pthread_mutex_lock(&pool->lock);
	while (pool->head == NULL && !pool->stopping)
		pthread_cond_wait(&pool->cond, &pool->lock);
	struct work_job *job = pool->head;
	if (job != NULL) {
		pool->head = job->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pool->queued--;
	}
	pthread_mutex_unlock(&pool->lock);
	return job;
}

static void workpool_finish(void *ctx)
{
	struct work_job *job = ctx;
	job->done(job->ctx);
	free(job);
}

/* A job is finished once its completion is posted. */
static void workpool_job_finished(struct workpool *pool)
{
	pthread_mutex_lock(&pool->lock);
	if (--pool->busy == 0)
		pthread_cond_broadcast(&pool->idle);
	pthread_mutex_unlock(&pool->lock);
}

static void *workpool_thread(void *arg)
{
	struct workpool *pool = arg;
	struct work_job *job;
	/* Linux: the nice value is per thread; a background pool's CPU-heavy
	 * jobs then run only when the network threads leave a core idle. */
	if (pool->nice != 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), pool->nice) < 0)
		log_warn("event=setpriority pool_nice=%d error=\"%s\"", pool->nice, strerror(errno));
	while ((job = workpool_take(pool)) != NULL) {
		job->work(job->ctx);
		if (job->done != NULL)
			loop_post(job->reply_loop, workpool_finish, job);
		else
			free(job);
		workpool_job_finished(pool);
	}
	return NULL;
}

bool workpool_wait_idle(struct workpool *pool)
{
	pthread_mutex_lock(&pool->lock);
	bool waited = pool->busy > 0;
	while (pool->busy > 0)
		pthread_cond_wait(&pool->idle, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	return waited;
}

struct workpool *workpool_new(unsigned threads, const char *name)
{
	return workpool_new_nice(threads, name, 0);
}

struct workpool *workpool_new_nice(unsigned threads, const char *name, int nice)
{
	struct workpool *pool = xcalloc(1, sizeof(*pool));
	pool->nice = nice;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pthread_cond_init(&pool->idle, NULL);
	pool->nthreads = threads ? threads : 1;
	pool->threads = xcalloc(pool->nthreads, sizeof(*pool->threads));
	for (unsigned i = 0; i < pool->nthreads; i++) {
		pthread_create(&pool->threads[i], NULL, workpool_thread, pool);
		/* "roost-store3" in top -H / ps -L (at most 15 characters). */
		char tname[32];
		snprintf(tname, sizeof(tname), "roost-%.6s%u", name ? name : "pool", i);
		tname[15] = '\0';
		pthread_setname_np(pool->threads[i], tname);
	}
	return pool;
}

void workpool_submit(struct workpool *pool, struct loop *reply_loop, loop_fn *work, loop_fn *done,
		     void *ctx)
{
	struct work_job *job = xmalloc(sizeof(*job));
	*job = (struct work_job){NULL, reply_loop, work, done, ctx};
	pthread_mutex_lock(&pool->lock);
	if (pool->tail != NULL)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pool->queued++;
	pool->busy++;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

size_t workpool_queued(struct workpool *pool)
{
	pthread_mutex_lock(&pool->lock);
	size_t n = pool->queued;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

void workpool_free(struct workpool **poolp)
{
	struct workpool *pool = *poolp;
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->cond);
	pthread_cond_destroy(&pool->idle);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}
