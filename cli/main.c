/*
 * cli/main.c — `winmem NAME ARGS...`: dispatch to cmd_NAME (cli/commands.h).
 *
 * The CLI only reads traces and the kernel; it never runs inside a traced
 * program (the shim records, the CLI interprets). Exit status: 0 ok, 1 a
 * command's "different/failed" answer, 2 usage or other error.
 */
#include <stdio.h>
#include <string.h>
#include "commands.h"

#ifndef WINMEM_VERSION
#define WINMEM_VERSION "0.1.0"
#endif

static const struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    { "run",    cmd_run,    "run a program (Wine or native) under the recording shim" },
    { "report", cmd_report, "calls, failures, latencies and call sites of a trace" },
    { "export", cmd_export, "a trace as Chrome/Perfetto JSON, folded stacks or JSON lines" },
    { "diff",   cmd_diff,   "compare two traces by meaning (regression testing)" },
    { "maps",   cmd_maps,   "a process's memory in Windows terms (like VMMap)" },
    { "guest",  cmd_guest,  "saved-state (VM memory dump) tools" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: winmem COMMAND [ARGS...]\n\n"
               "The Windows memory API on Linux: record, read and compare the memory calls of\n"
               "Wine and native programs, and show any process's memory in Windows terms.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`winmem COMMAND --help` describes one command; `man winmem` all of them.\n"
               "Typical use:\n"
               "  winmem run -- wine app.exe      record; prints where the trace went\n"
               "  winmem report app.exe.1234.wmt  what the program asked of memory, and from where\n"
               "  winmem diff base.wmt new.wmt     did this build behave differently?\n"
               "  winmem maps PID                  a process's regions, as VirtualQueryEx sees them\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        printf("winmem %s\n", WINMEM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "winmem: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
