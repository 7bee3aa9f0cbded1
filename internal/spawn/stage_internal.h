// What the stage's C files share (see stage.c).

#ifndef BERTH_STAGE_INTERNAL_H
#define BERTH_STAGE_INTERNAL_H

#include <stdint.h>

#include "stage.h"

// berth_fail reports an error to the spawner (with strerror(err) appended
// unless err is 0) and ends the stage.
__attribute__((noreturn, format(printf, 2, 3))) void berth_fail(int err, const char *fmt, ...);

int berth_open_in(int root, const char *rel, int strict);
int berth_must_open_in(int root, const char *rel);
void berth_bind_tree(int src, int target, const char *what, int rec, uint64_t attrs);

// berth_finish_root builds the container side of the tree in the working
// directory (the root rootfs.Prepare made) and pivots into it.
void berth_finish_root(uint32_t flags);

// berth_stage_main is the stage: it never returns.
__attribute__((noreturn)) void berth_stage_main(void);

#endif
