/*
 * cli/html.c — `winmem report --html FILE`: one self-contained page from the
 * report's collection (report_stats): no network, no external file; the
 * graph is inline SVG, sorting a few lines of inline script.
 *
 *   summary       program, calls, peak commit and when, held at the end
 *   graph         committed, reserved and mapped bytes over time (steps)
 *   call sites    every site, own code first; click a header to sort (the
 *                 page also sorts on load by #sort=COLUMN, which is how the
 *                 test drives it in headless Chromium)
 *   failures, writable+executable memory, the address space at the end
 */
#include <stdlib.h>
#include <string.h>
#include "calls.h"
#include "html.h"
#include "report.h"
#include "maps.h"
#include "report_stats.h"

static void esc(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static const char *site_label(const report_stats *s, int i)
{
    return i < 0 ? "(no stack)" : s->sites[i].src[0] ? s->sites[i].src : s->sites[i].name;
}

static void head(FILE *f, tr_trace *t)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>winmem report: ", f);
    esc(f, *t->prog ? t->prog : tr_basename(t->exe));
    fputs("</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\n"
          "table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}\n"
          "td.l,th.l{text-align:left;white-space:normal}th{cursor:pointer;background:#f3f3f3;position:sticky;top:0}\n"
          "tr.wine td{color:#777}.bar{background:#4a7bd0;height:.8em;display:inline-block}.wx{color:#b00;font-weight:bold}\n"
          "svg text{font-size:11px;fill:#444}\n</style></head><body>\n", f);
}

static void summary(FILE *f, tr_trace *t, const report_stats *s)
{
    char a[32], b[32], c[32], d[32], e[32];
    fputs("<h1>winmem report: ", f);
    esc(f, *t->prog ? t->prog : tr_basename(t->exe));
    fprintf(f, "</h1>\n<p id=\"summary\">pid %u, %llu calls in %zu threads; %s. Peak commit <b id=\"peak\">%s</b> at +%.1f ms; "
               "at the end %s committed, %s in views, %s of address space; %s writable and executable.</p>\n",
            t->hdr->pid, (unsigned long long)t->ncalls, t->nthreads,
            t->end ? "the program exited normally" : "no END record: the program was killed or is still running",
            report_bytes(a, sizeof a, s->peak_commit), (double)s->peak_ns / 1e6, report_bytes(b, sizeof b, s->committed),
            report_bytes(c, sizeof c, s->mapped), report_bytes(d, sizeof d, s->reserved), report_bytes(e, sizeof e, s->wx_held));
    if (t->cut[0]) {
        fputs("<p class=\"wx\">Trace cut: ", f);
        esc(f, t->cut);
        fputs("; the readable part is shown.</p>\n", f);
    }
}

/* Step lines of committed, reserved and mapped bytes, at most ~1600 points each. */
static void graph(FILE *f, const report_stats *s)
{
    const int W = 900, H = 240, L = 70, B = 20;
    uint64_t tmax = 1, ymax = 1;
    for (size_t i = 0; i < s->npoints; i++) {
        const rs_point *p = &s->points[i];
        tmax = p->t_ns > tmax ? p->t_ns : tmax;
        uint64_t m = p->reserved > p->committed ? p->reserved : p->committed;
        ymax = m > ymax ? m : ymax;
    }
    char top[32];
    fprintf(f, "<h2>Memory over time</h2>\n<svg id=\"graph\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            W + L + 10, H + B + 10, W + L + 10, H + B + 10);
    fprintf(f, "<line x1=\"%d\" y1=\"0\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n",
            L, L, H, L, H, L + W, H);
    fprintf(f, "<text x=\"2\" y=\"12\">%s</text><text x=\"2\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\">+%.1f ms</text>\n",
            report_bytes(top, sizeof top, ymax), H, L + W - 60, H + 15, (double)tmax / 1e6);
    static const char *const names[3] = { "reserved", "committed", "mapped" }, *const colors[3] = { "#999", "#c33", "#37a" };
    size_t step = s->npoints / 1600 + 1;
    for (int k = 0; k < 3; k++) {
        fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", names[k], colors[k]);
        double py = H;
        for (size_t i = 0; i < s->npoints; i += step) {
            const rs_point *p = &s->points[i];
            uint64_t v = k == 0 ? p->reserved : k == 1 ? p->committed : p->mapped;
            double x = L + (double)W * (double)p->t_ns / (double)tmax, y = H - (double)H * (double)v / (double)ymax;
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", x, py, x, y);
            py = y;
        }
        fprintf(f, "%d,%.1f\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\" style=\"fill:%s\">%s</text>\n", L + W, py, L + 10 + 90 * k,
                H + 15, colors[k], colors[k], names[k]);
    }
    fputs("</svg>\n", f);
}

/* A number cell: shown for people, sorted by data-v. */
static void num(FILE *f, uint64_t v, bool bytes)
{
    char b[32];
    fprintf(f, "<td data-v=\"%llu\">%s</td>", (unsigned long long)v,
            bytes ? report_bytes(b, sizeof b, v) : (snprintf(b, sizeof b, "%llu", (unsigned long long)v), b));
}

/* One stack through the site, folded away until asked for. */
static void example_stack(FILE *f, tr_trace *t, uint32_t id)
{
    const struct wmt_stack *st = tr_stack(t, id);
    char name[512], src[300];
    if (!st)
        return;
    fputs("<details><summary>a stack</summary><pre>", f);
    for (int i = 0; i < st->nframes; i++) {
        tr_frame_name(t, &tr_frames(st)[i], name, sizeof name);
        tr_frame_source(t, &tr_frames(st)[i], src, sizeof src);
        fprintf(f, "#%-2d ", i);
        esc(f, name);
        esc(f, src);
        fputc('\n', f);
    }
    fputs("</pre></details>", f);
}

static void sites(FILE *f, tr_trace *t, const report_stats *s)
{
    fputs("<h2>Call sites</h2>\n<p>The first frame in the program's own code, merged by function; grey rows are Wine and "
          "the runtime on their own. Click a column to sort.</p>\n<table id=\"sites\" class=\"sortable\"><thead><tr>"
          "<th class=\"l\" data-k=\"site\">call site</th><th class=\"l\" data-k=\"module\">module</th><th data-k=\"calls\">calls</th>"
          "<th data-k=\"reserved\">reserved</th><th data-k=\"committed\">committed</th><th data-k=\"freed\">freed</th>"
          "<th data-k=\"released\">released</th>"
          "<th data-k=\"held\">held at end</th><th data-k=\"wx\">W+X</th><th data-k=\"failed\">failed</th>"
          "<th class=\"l\" data-k=\"as\">called as</th></tr></thead><tbody>\n", f);
    for (size_t i = 0; i < s->nsites; i++) {
        const rs_site *x = &s->sites[s->order[i]];
        fprintf(f, "<tr%s><td class=\"l\">", x->own ? "" : " class=\"wine\"");
        esc(f, site_label(s, s->order[i]));
        example_stack(f, t, x->example_stack);
        fputs("</td><td class=\"l\">", f);
        esc(f, x->module);
        fputs("</td>", f);
        num(f, x->calls, false), num(f, x->reserved, true), num(f, x->committed + x->mapped, true);
        num(f, x->freed, true), num(f, x->released, true), num(f, x->held_commit, true), num(f, x->wx, true), num(f, x->failed, false);
        fputs("<td class=\"l\">", f);
        for (int k = 0; k < x->nnamed; k++) {
            fprintf(f, "%s%s", k ? ", " : "", x->named[k].w32 ? x->named[k].w32 : "");
            fprintf(f, x->named[k].w32 ? " (%s)" : "%s", call_api_name(x->named[k].api));
            fprintf(f, " &times;%llu", (unsigned long long)x->named[k].n);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void failures(FILE *f, const report_stats *s)
{
    fprintf(f, "<h2>Failures</h2>\n<table id=\"failures\"><thead><tr><th>count</th><th class=\"l\">call</th>"
               "<th class=\"l\">error</th><th class=\"l\">call site</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nfails; i++) {
        const rs_fail *x = &s->fails[i];
        char code[96];
        call_code_name(x->example, code, sizeof code);
        fprintf(f, "<tr><td>%llu</td><td class=\"l\">%s%s%s%s</td><td class=\"l\">%s</td><td class=\"l\">",
                (unsigned long long)x->n, x->w32 ? x->w32 : "", x->w32 ? " (" : "", call_api_name(x->api), x->w32 ? ")" : "", code);
        esc(f, site_label(s, x->site));
        fputs("</td></tr>\n", f);
    }
    if (!s->nfails)
        fputs("<tr><td colspan=\"4\" class=\"l\">no call failed</td></tr>\n", f);
    fputs("</tbody></table>\n", f);
    if (s->nwx) {
        fputs("<h2>Writable and executable memory</h2>\n<table id=\"wx\"><tbody>\n", f);
        for (size_t i = 0; i < s->nwx; i++) {
            char b[32];
            fprintf(f, "<tr><td>%s</td><td class=\"l wx\">%s</td><td class=\"l\">%s</td><td class=\"l\">",
                    report_bytes(b, sizeof b, s->wx[i].bytes), wm_protect_name(s->wx[i].protect), s->wx[i].w32 ? s->wx[i].w32 : "");
            esc(f, site_label(s, s->wx[i].site));
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table>\n", f);
    }
}

static void address_map(FILE *f, tr_trace *t, const report_stats *s)
{
    uint64_t big = 1;
    for (size_t i = 0; i < s->nregions; i++)
        big = s->regions[i].size > big ? s->regions[i].size : big;
    fprintf(f, "<h2>The address space %s</h2>\n<p>Allocations the trace saw made and not released (memory made before "
               "recording, and Wine's unix side, are not known).</p>\n<table id=\"map\" class=\"sortable\"><thead><tr>"
               "<th class=\"l\">base</th><th>size</th><th>committed</th><th class=\"l\">protection</th><th class=\"l\">kind</th>"
               "<th class=\"l\">allocated by</th><th class=\"l\"></th></tr></thead><tbody>\n", t->end ? "at exit" : "when the trace ends");
    for (size_t i = 0; i < s->nregions; i++) {
        const rs_region *r = &s->regions[i];
        fprintf(f, "<tr><td class=\"l\" data-v=\"%llu\">0x%llx</td>", (unsigned long long)r->base, (unsigned long long)r->base);
        num(f, r->size, true), num(f, r->committed, true);
        fprintf(f, "<td class=\"l\">%s%s</td><td class=\"l\">%s</td><td class=\"l\">",
                r->committed ? wm_protect_name(r->protect) : "-", r->wx ? " <span class=\"wx\">+ writable and executable pages</span>" : "",
                r->mapped ? "view" : "private");
        esc(f, site_label(s, r->site));
        fprintf(f, "</td><td class=\"l\"><span class=\"bar\" style=\"width:%.0fpx\"></span></td></tr>\n",
                1 + 200.0 * (double)r->size / (double)big);
    }
    fputs("</tbody></table>\n", f);
}

/* Sorting: a header click sorts its table (numbers by data-v, descending
 * first); #sort=KEY in the URL sorts the call sites on load. */
static void script(FILE *f)
{
    fputs("<script>\n"
          "function val(td){return td.dataset.v!==undefined?Number(td.dataset.v):td.textContent.toLowerCase();}\n"
          "function sortBy(table,col,desc){const tb=table.tBodies[0];const rows=Array.from(tb.rows);\n"
          " rows.sort((a,b)=>{const x=val(a.cells[col]),y=val(b.cells[col]);return (x<y?-1:x>y?1:0)*(desc?-1:1);});\n"
          " rows.forEach(r=>tb.appendChild(r));table.dataset.sorted=table.tHead.rows[0].cells[col].dataset.k+(desc?' desc':' asc');}\n"
          "document.querySelectorAll('table.sortable').forEach(t=>{Array.from(t.tHead.rows[0].cells).forEach((th,i)=>{\n"
          " th.addEventListener('click',()=>{const d=t.dataset.sorted!==(th.dataset.k+' desc');sortBy(t,i,d);});});});\n"
          "const m=/sort=([a-z]+)/.exec(location.hash);if(m){const t=document.getElementById('sites');\n"
          " Array.from(t.tHead.rows[0].cells).forEach((th,i)=>{if(th.dataset.k===m[1])sortBy(t,i,true);});}\n"
          "</script>\n", f);
}

int html_write(tr_trace *t, const char *path, const report_stats *s)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "winmem report: --html %s: %m\n", path);
        return -1;
    }
    head(f, t);
    summary(f, t, s);
    graph(f, s);
    sites(f, t, s);
    failures(f, s);
    address_map(f, t, s);
    script(f);
    fputs("</body></html>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "winmem report: --html %s: %m\n", path);
        return -1;
    }
    return 0;
}
