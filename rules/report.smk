# The report's tables (`snakemake --report report.html` after the run shows them beside the figures):
# data/report/<table>.csv    the numbers at full precision
# data/report/<table>.html   the same as the page the report shows (its entry, with a caption)
# Figures join the report where their rule declares them: `reported(...)` in rules/common.smk.


rule report_tables:
    input:
        sorted({p for t in report_tables().values() for p in t[4].values()}),
    output:
        **report_table_outputs(),
    params:
        spec=report_table_spec(),
    log:
        "data/report/logs/tables.log",
    threads: threads_of("report_tables")
    resources:
        **resources_of("report_tables"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("report.tables", "--spec {params.spec:q}")
