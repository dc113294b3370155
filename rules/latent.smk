# Latent-space analyses of the trained models (pipeline_lib.latent), every decoded design FE-verified:
# data/<chain>/latent/<analysis>.h5     decoded designs: geometry, validity, FE and predicted properties
# data/<chain>/latent/<analysis>.json   that analysis's figures of merit (part of summary.json)
# data/<chain>/latent/fig*.png          figures, named after the paper figure they reproduce
# data/<chain>/latent/summary.json      every figure of merit of the chain (rule latent_<chain>)
# One rule per analysis (independent jobs), one summary rule per chain.  The shell lines are formatted
# when a job runs, after the loops: everything that varies comes through params.
MODEL_INPUTS = dict(db="data/{c}/database.h5", model="data/{c}/model/model.h5", latent="data/{c}/model/latent.h5")
LATENT_FLAGS = "--chain {params.chain} --cfg {params.cfg:q} --seed {params.seed}"

for _c in ("pixel2d", "truss3d"):

    rule:
        name:
            f"latent_{_c}_traversal"
        input:
            **{k: v.format(c=_c) for k, v in MODEL_INPUTS.items()},
        output:
            **latent_outputs(_c, "traversal", flagged=True),
        params:
            chain=_c,
            cfg=latent_cfg(_c, "traversal"),
            seed=config["seed"],
        log:
            f"data/{_c}/logs/latent_traversal.log",
        threads: threads_of("latent")
        resources:
            **resources_of("latent"),
        conda:
            "../envs/metagen.yaml"
        shell:
            stage("latent.traversal", "--db {input.db} --model {input.model} --latent {input.latent} --out {output.out} "
                  "--figure {output.figure} --summary {output.summary} ", LATENT_FLAGS)


rule latent_pixel2d_maps:
    input:
        db="data/pixel2d/database.h5",
        latent="data/pixel2d/model/latent.h5",
    output:
        **latent_outputs("pixel2d", "maps", artifact=False, flagged=True),
    params:
        chain="pixel2d",
        cfg=latent_cfg("pixel2d", "maps"),
        seed=config["seed"],
    log:
        "data/pixel2d/logs/latent_maps.log",
    threads: threads_of("latent")
    resources:
        **resources_of("latent"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("latent.maps", "--db {input.db} --latent {input.latent} --figure {output.figure} "
              "--summary {output.summary} ", LATENT_FLAGS)


rule latent_pixel2d_arrows:
    input:
        **{k: v.format(c="pixel2d") for k, v in MODEL_INPUTS.items()},
    output:
        **latent_outputs("pixel2d", "arrows", flagged=True),
    params:
        chain="pixel2d",
        cfg=latent_cfg("pixel2d", "arrows"),
        seed=config["seed"],
    log:
        "data/pixel2d/logs/latent_arrows.log",
    threads: threads_of("latent")
    resources:
        **resources_of("latent"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("latent.arrows", "--db {input.db} --model {input.model} --latent {input.latent} --out {output.out} "
              "--figure {output.figure} --gallery {output.gallery} --summary {output.summary} ", LATENT_FLAGS)


rule latent_pixel2d_candidates:
    input:
        **{k: v.format(c="pixel2d") for k, v in MODEL_INPUTS.items()},
    output:
        **latent_outputs("pixel2d", "candidates", flagged=True),
    params:
        chain="pixel2d",
        cfg=latent_cfg("pixel2d", "candidates"),
        seed=config["seed"],
    log:
        "data/pixel2d/logs/latent_candidates.log",
    threads: threads_of("latent")
    resources:
        **resources_of("latent"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("latent.candidates", "--db {input.db} --model {input.model} --latent {input.latent} "
              "--out {output.out} --figure {output.figure} --summary {output.summary} ", LATENT_FLAGS)


rule latent_pixel2d_families:
    input:
        **{k: v.format(c="pixel2d") for k, v in MODEL_INPUTS.items()},
    output:
        **latent_outputs("pixel2d", "families", flagged=True),
    params:
        chain="pixel2d",
        cfg=latent_cfg("pixel2d", "families"),
        seed=config["seed"],
    log:
        "data/pixel2d/logs/latent_families.log",
    threads: threads_of("latent")
    resources:
        **resources_of("latent"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("latent.families", "--db {input.db} --model {input.model} --latent {input.latent} "
              "--out {output.out} --figure {output.figure} --gallery {output.gallery} --summary {output.summary} ",
              LATENT_FLAGS)


rule latent_truss3d_samples:
    input:
        db="data/truss3d/database.h5",
        model="data/truss3d/model/model.h5",
    output:
        **latent_outputs("truss3d", "samples", flagged=True),
    params:
        chain="truss3d",
        cfg=latent_cfg("truss3d", "samples"),
        seed=config["seed"],
    log:
        "data/truss3d/logs/latent_samples.log",
    threads: threads_of("latent")
    resources:
        **resources_of("latent"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("latent.samples", "--db {input.db} --model {input.model} --out {output.out} "
              "--summary {output.summary} ", LATENT_FLAGS)


for _c in ("truss3d", "voxel3d"):

    rule:
        name:
            f"latent_{_c}_slerp"
        input:
            **{k: v.format(c=_c) for k, v in MODEL_INPUTS.items()},
        output:
            **latent_outputs(_c, "slerp", flagged=True),
        params:
            chain=_c,
            cfg=latent_cfg(_c, "slerp"),
            seed=config["seed"],
        log:
            f"data/{_c}/logs/latent_slerp.log",
        threads: threads_of("latent")
        resources:
            **resources_of("latent"),
        conda:
            "../envs/metagen.yaml"
        shell:
            stage("latent.slerp", "--db {input.db} --model {input.model} --latent {input.latent} --out {output.out} "
                  "--figure {output.figure} --plot {output.plot} --summary {output.summary} ", LATENT_FLAGS)


for _c in LATENT_ANALYSES:

    rule:
        name:
            f"latent_{_c}"
        input:
            [f"data/{_c}/latent/{a}.json" for a in LATENT_ANALYSES[_c]],
        output:
            f"data/{_c}/latent/summary.json",
        log:
            f"data/{_c}/logs/latent_summary.log",
        threads: threads_of("latent_summary")
        resources:
            **resources_of("latent_summary"),
        conda:
            "../envs/metagen.yaml"
        shell:
            stage("latent.summary", "--parts {input} --out {output}")
