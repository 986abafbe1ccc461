/*
 * winmem/winmem.h — everything winmem offers a C program: the Windows memory
 * API (memory.h), AWE (awe.h) and the saved-state dump API
 * (vmsavedstatedump.h). Link with `pkg-config --libs winmem`.
 * With Wine or mingw-w64, include <windows.h> first.
 */
#ifndef WINMEM_WINMEM_H
#define WINMEM_WINMEM_H
#include "wintypes.h"
#include "errors.h"
#include "memory.h"
#include "awe.h"
#include "vmsavedstatedump.h"
#endif
