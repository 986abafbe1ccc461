/*
 * cli/commands.h — the subcommands of the `winmem` program. cli/main.c
 * dispatches `winmem NAME ARGS...` to cmd_NAME(argc, argv) with argv[0] =
 * NAME. Each returns the process exit status (0 ok, 1 "different/failed
 * check" where a command defines it, 2 usage or other error) and prints
 * its own --help. One file per command: cli/<name>.c.
 */
#ifndef WINMEM_CLI_COMMANDS_H
#define WINMEM_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);     /* cli/run.c:    run a program under the shim */
int cmd_report(int argc, char **argv);  /* cli/report.c: summarize a trace */
int cmd_export(int argc, char **argv);  /* cli/export.c: chrome | folded | jsonl */
int cmd_diff(int argc, char **argv);    /* cli/diff.c:   compare two traces */
int cmd_maps(int argc, char **argv);    /* cli/maps.c:   a process's memory in Windows terms */
int cmd_guest(int argc, char **argv);   /* cli/guest.c:  saved-state dumps */

#endif
