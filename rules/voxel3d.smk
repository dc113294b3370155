# voxel3d: three sources of cubic-symmetric units -> screening -> dedupe -> sharded hex8
# homogenization, each unit with its own material draw (aleatoric uncertainty).
# data/voxel3d/cells/{source}_S.h5     screened cells of one source and shard
# data/voxel3d/cells.h5                all sources, deduplicated
# data/voxel3d/stiffness/shard_S.h5    C, drawn E_s / nu_s and derived E, G, nu, K of one slice
# data/voxel3d/database.h5             units + properties
# data/voxel3d/aleatoric.h5            repeated simulations of a few cells (true aleatoric spread)
# data/voxel3d/figures/*.png           histograms per source, gallery
V3 = "data/voxel3d"
V3CFG = config["voxel3d"]
V3_SOURCES = ("templates", "skeletons", "levelsets")


rule voxel3d:
    input:
        f"{V3}/database.h5",
        f"{V3}/aleatoric.h5",
        f"{V3}/figures/histograms.png",
        f"{V3}/figures/gallery.png",


rule voxel3d_generate:
    output:
        f"{V3}/cells/{{source}}_{{shard}}.h5",
    wildcard_constraints:
        source="|".join(V3_SOURCES),
    params:
        cfg=lambda w: json.dumps({"size": V3CFG["size"], "volume_fraction": V3CFG["volume_fraction"],
                                  "sources": {w.source: V3CFG["sources"][w.source]}}, sort_keys=True),
        seed=config["seed"],
    log:
        f"{V3}/logs/cells_{{source}}_{{shard}}.log",
    threads: threads_of("voxel3d_generate")
    resources:
        **resources_of("voxel3d_generate"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.generate", "--out {output} --source {wildcards.source} --shard {wildcards.shard} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule voxel3d_cells:
    input:
        [f"{V3}/cells/{s}_{k}.h5" for s in V3_SOURCES for k in range(V3CFG["sources"][s]["shards"])],
    output:
        f"{V3}/cells.h5",
    log:
        f"{V3}/logs/cells.log",
    threads: threads_of("voxel3d_cells")
    resources:
        **resources_of("voxel3d_cells"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.collect", "--parts {input} --out {output}")


rule voxel3d_homogenize:
    input:
        f"{V3}/cells.h5",
    output:
        f"{V3}/stiffness/shard_{{shard}}.h5",
    params:
        cfg=cfg_json("voxel3d", "material", "homogenize"),
        seed=config["seed"],
    log:
        f"{V3}/logs/stiffness_{{shard}}.log",
    threads: threads_of("voxel3d_homogenize")
    resources:
        **resources_of("voxel3d_homogenize"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.homogenize_shard", "--cells {input} --out {output} --shard {wildcards.shard} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule voxel3d_database:
    input:
        cells=f"{V3}/cells.h5",
        stiffness=expand(f"{V3}/stiffness/shard_{{shard}}.h5", shard=range(V3CFG["homogenize"]["shards"])),
    output:
        f"{V3}/database.h5",
    params:
        cfg=provenance_cfg("voxel3d"),
        seed=config["seed"],
    log:
        f"{V3}/logs/database.log",
    threads: threads_of("voxel3d_database")
    resources:
        **resources_of("voxel3d_database"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.database", "--cells {input.cells} --stiffness {input.stiffness} --out {output} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule voxel3d_aleatoric:
    input:
        f"{V3}/database.h5",
    output:
        f"{V3}/aleatoric.h5",
    params:
        cfg=cfg_json("voxel3d", "material", "aleatoric"),
        seed=config["seed"],
    log:
        f"{V3}/logs/aleatoric.log",
    threads: threads_of("voxel3d_aleatoric")
    resources:
        **resources_of("voxel3d_aleatoric"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.aleatoric", "--db {input} --out {output} --cfg {params.cfg:q} --seed {params.seed}")


rule voxel3d_figures:
    input:
        f"{V3}/database.h5",
    output:
        histograms=reported(f"{V3}/figures/histograms.png", "voxel3d_histograms", "voxel3d", "database",
                            "Fig. 4: E and nu by source"),
        gallery=reported(f"{V3}/figures/gallery.png", "voxel3d_gallery", "voxel3d", "database", "units by source"),
    params:
        cfg=cfg_json("voxel3d", "figures"),
    log:
        f"{V3}/logs/figures.log",
    threads: threads_of("voxel3d_figures")
    resources:
        **resources_of("voxel3d_figures"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.figures", "--db {input} --histograms {output.histograms} --gallery {output.gallery} "
              "--cfg {params.cfg:q}")
