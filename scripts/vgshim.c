/*-------------------------------------------------------------------------
 *
 * vgshim.c
 *	  Valgrind shim for clm's own allocations, linked only into the build
 *	  that scripts/valgrind makes (never into the real clm.so).
 *
 * Debian's PostgreSQL is not built with USE_VALGRIND, so memcheck sees
 * memory-context blocks, not palloc chunks: an overrun that stays inside a
 * block, or a read of a freed and recycled chunk, goes unseen.  With
 * -Wl,--wrap=palloc (etc.) clm's calls land here instead: every chunk is
 * made bigger than any aset allocChunkLimit so that it gets a malloc'd block
 * of its own (freed, never recycled, by pfree and by context reset), and
 * the bytes after the requested size are marked NOACCESS.  Reads and writes
 * past the end of a clm allocation, use after free, and use of
 * uninitialised palloc memory are then reported as in a USE_VALGRIND build.
 * The requested size is kept in the last 16 bytes of the chunk for repalloc.
 *
 * Assumes the chunk header of a non-assert PostgreSQL 15 aset.c
 * (Size size; void *aset), i.e. the size is two words before the pointer.
 *
 * IDENTIFICATION
 *	  scripts/vgshim.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <valgrind/memcheck.h>

#include "utils/memutils.h"

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define SHIM_MIN 8300			/* > ALLOC_CHUNK_LIMIT (8192) */
#define SHIM_MAGIC UINT64CONST(0x5eed5eedc1c1c1c1)

extern void *__real_MemoryContextAllocExtended(MemoryContext c, Size s, int f);
extern void *__real_repalloc_extended(void *p, Size s, int f);

/*
 * Size of an aset chunk, from its header.
 */
static inline Size
ChunkSize(void *p)
{
	return ((Size *) p)[-2];
}

/*
 * Record the requested size and fence off the rest of the chunk.
 */
static void *
Mark(void *p, Size sz)
{
	Size		chunk;
	uint64	   *tail;

	if (p == NULL)
		return p;
	chunk = ChunkSize(p);
	tail = (uint64 *) ((char *) p + chunk - 16);
	tail[0] = SHIM_MAGIC;
	tail[1] = sz;
	VALGRIND_MAKE_MEM_NOACCESS((char *) p + sz, chunk - sz);
	return p;
}

/*
 * Allocate sz bytes in a chunk of its own.
 */
static void *
Alloc(MemoryContext c, Size sz, int flags)
{
	if (sz > MaxAllocSize)
		flags |= MCXT_ALLOC_HUGE;
	return Mark(__real_MemoryContextAllocExtended(c, Max(sz, SHIM_MIN) + 16, flags), sz);
}

/*
 * Resize a chunk (ours or not) to sz bytes in a chunk of its own.
 */
static void *
Realloc(void *p, Size sz, int flags)
{
	Size		chunk = ChunkSize(p);
	uint64	   *tail = (uint64 *) ((char *) p + chunk - 16);

	VALGRIND_MAKE_MEM_DEFINED(tail, 16);
	if (chunk > SHIM_MIN && tail[0] == SHIM_MAGIC && tail[1] <= chunk - 16)
		VALGRIND_MAKE_MEM_UNDEFINED((char *) p + tail[1], chunk - tail[1]);
	else
		VALGRIND_MAKE_MEM_UNDEFINED(tail, 16);
	if (sz > MaxAllocSize)
		flags |= MCXT_ALLOC_HUGE;
	return Mark(__real_repalloc_extended(p, Max(sz, SHIM_MIN) + 16, flags), sz);
}

void *__wrap_palloc(Size s) { return Alloc(CurrentMemoryContext, s, 0); }
void *__wrap_palloc0(Size s) { return Alloc(CurrentMemoryContext, s, MCXT_ALLOC_ZERO); }
void *__wrap_palloc_extended(Size s, int f) { return Alloc(CurrentMemoryContext, s, f); }
void *__wrap_MemoryContextAlloc(MemoryContext c, Size s) { return Alloc(c, s, 0); }
void *__wrap_MemoryContextAllocZero(MemoryContext c, Size s) { return Alloc(c, s, MCXT_ALLOC_ZERO); }
void *__wrap_MemoryContextAllocZeroAligned(MemoryContext c, Size s) { return Alloc(c, s, MCXT_ALLOC_ZERO); }
void *__wrap_MemoryContextAllocExtended(MemoryContext c, Size s, int f) { return Alloc(c, s, f); }
void *__wrap_MemoryContextAllocHuge(MemoryContext c, Size s) { return Alloc(c, s, MCXT_ALLOC_HUGE); }
void *__wrap_palloc_mul(Size a, Size b) { return Alloc(CurrentMemoryContext, mul_size(a, b), 0); }
void *__wrap_palloc0_mul(Size a, Size b) { return Alloc(CurrentMemoryContext, mul_size(a, b), MCXT_ALLOC_ZERO); }
void *__wrap_palloc_mul_extended(Size a, Size b, int f) { return Alloc(CurrentMemoryContext, mul_size(a, b), f); }
void *__wrap_repalloc(void *p, Size s) { return Realloc(p, s, 0); }
void *__wrap_repalloc_extended(void *p, Size s, int f) { return Realloc(p, s, f); }
void *__wrap_repalloc_huge(void *p, Size s) { return Realloc(p, s, MCXT_ALLOC_HUGE); }
void *__wrap_repalloc_mul(void *p, Size a, Size b) { return Realloc(p, mul_size(a, b), 0); }
void *__wrap_repalloc_mul_extended(void *p, Size a, Size b, int f) { return Realloc(p, mul_size(a, b), f); }
