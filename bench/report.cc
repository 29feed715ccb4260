#include "bench/report.h"

#include <cstdio>

void bench_report_number(bench_report *r, const char *key, double value, const char *unit, int decimals)
{
    char text[64];
    snprintf(text, sizeof text, "%.*f", decimals, value);
    r->rows.push_back({key, text, text, unit});
}

void bench_report_text(bench_report *r, const char *key, const std::string &value)
{
    std::string json = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\')
            json += '\\';
        json += c;
    }
    r->rows.push_back({key, value, json + "\"", ""});
}

void bench_report_print(const bench_report *r)
{
    printf("%-28s %s\n", "scenario", r->scenario.c_str());
    for (const auto &row : r->rows)
        printf("%-28s %14s %s\n", row.key.c_str(), row.text.c_str(), row.unit.c_str());
    printf("{\"scenario\": \"%s\"", r->scenario.c_str());
    for (const auto &row : r->rows)
        printf(", \"%s\": %s", row.key.c_str(), row.json.c_str());
    printf("}\n");
    fflush(stdout);
}
