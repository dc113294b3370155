# pixel2d: SIMP seeds -> iterative stochastic perturbation -> sharded periodic homogenization.
# data/pixel2d/seeds/shard_S.h5               SIMP designs of one shard
# data/pixel2d/iterations/KKK/candidates.h5   new cells of iteration KKK (000 = seeds)
# data/pixel2d/iterations/KKK/stiffness_S.h5  C of shard S of those cells
# data/pixel2d/iterations/KKK/cells.h5        cells + C of iteration KKK
# data/pixel2d/database.h5                    every iteration, in order
# data/pixel2d/figures/*.png                  property space and gallery
P2 = "data/pixel2d"
P2CFG = config["pixel2d"]
P2_ITERATIONS = P2CFG["perturb"]["iterations"]
P2_SEED_SHARDS = range(P2CFG["seeds"]["shards"])
P2_HOM_SHARDS = range(P2CFG["homogenize"]["shards"])


rule pixel2d:
    input:
        f"{P2}/database.h5",
        f"{P2}/figures/property_space.png",
        f"{P2}/figures/gallery.png",


rule pixel2d_seeds:
    output:
        f"{P2}/seeds/shard_{{shard}}.h5",
    params:
        cfg=cfg_json("pixel2d", "size", "material", "seeds"),
        seed=config["seed"],
    log:
        f"{P2}/logs/seeds_{{shard}}.log",
    threads: threads_of("pixel2d_seeds")
    resources:
        **resources_of("pixel2d_seeds"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.seeds", "--out {output} --shard {wildcards.shard} --cfg {params.cfg:q} --seed {params.seed}")


rule pixel2d_initial_candidates:
    input:
        expand(f"{P2}/seeds/shard_{{shard}}.h5", shard=P2_SEED_SHARDS),
    output:
        f"{P2}/iterations/000/candidates.h5",
    log:
        f"{P2}/logs/candidates_000.log",
    threads: threads_of("pixel2d_initial_candidates")
    resources:
        **resources_of("pixel2d_initial_candidates"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.initial_candidates", "--seed-shards {input} --out {output}")


rule pixel2d_perturb:
    input:
        lambda w: [f"{p2_iteration(k)}/cells.h5" for k in range(int(w.it))],
    output:
        f"{P2}/iterations/{{it}}/candidates.h5",
    wildcard_constraints:
        it=r"(?!000)\d{3}",
    params:
        # the iteration count is left out: raising it adds iterations without redoing the others
        cfg=json.dumps({"perturb": {k: v for k, v in P2CFG["perturb"].items() if k != "iterations"}}, sort_keys=True),
        seed=config["seed"],
        it=lambda w: int(w.it),
    log:
        f"{P2}/logs/candidates_{{it}}.log",
    threads: threads_of("pixel2d_perturb")
    resources:
        **resources_of("pixel2d_perturb"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.perturb", "--results {input} --out {output} --iteration {params.it} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule pixel2d_homogenize:
    input:
        f"{P2}/iterations/{{it}}/candidates.h5",
    output:
        f"{P2}/iterations/{{it}}/stiffness_{{shard}}.h5",
    params:
        cfg=cfg_json("pixel2d", "material", "homogenize"),
    log:
        f"{P2}/logs/stiffness_{{it}}_{{shard}}.log",
    threads: threads_of("pixel2d_homogenize")
    resources:
        **resources_of("pixel2d_homogenize"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.homogenize_shard", "--candidates {input} --out {output} --shard {wildcards.shard} "
              "--cfg {params.cfg:q}")


rule pixel2d_collect:
    input:
        candidates=f"{P2}/iterations/{{it}}/candidates.h5",
        stiffness=expand(f"{P2}/iterations/{{{{it}}}}/stiffness_{{shard}}.h5", shard=P2_HOM_SHARDS),
    output:
        f"{P2}/iterations/{{it}}/cells.h5",
    log:
        f"{P2}/logs/cells_{{it}}.log",
    threads: threads_of("pixel2d_collect")
    resources:
        **resources_of("pixel2d_collect"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.collect_iteration", "--candidates {input.candidates} --stiffness {input.stiffness} "
              "--out {output}")


rule pixel2d_database:
    input:
        [f"{p2_iteration(k)}/cells.h5" for k in range(P2_ITERATIONS + 1)],
    output:
        f"{P2}/database.h5",
    params:
        # provenance: the whole chain's config (downstream sections aside); upstream changes rerun this anyway
        cfg=provenance_cfg("pixel2d"),
        seed=config["seed"],
    log:
        f"{P2}/logs/database.log",
    threads: threads_of("pixel2d_database")
    resources:
        **resources_of("pixel2d_database"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.database", "--results {input} --out {output} --cfg {params.cfg:q} --seed {params.seed}")


rule pixel2d_figures:
    input:
        f"{P2}/database.h5",
    output:
        property_space=reported(f"{P2}/figures/property_space.png", "pixel2d_property_space", "pixel2d", "database",
                                "Fig. 4: property space by iteration"),
        gallery=reported(f"{P2}/figures/gallery.png", "pixel2d_gallery", "pixel2d", "database",
                         "cells across the property space"),
    params:
        cfg=cfg_json("pixel2d", "figures"),
    log:
        f"{P2}/logs/figures.log",
    threads: threads_of("pixel2d_figures")
    resources:
        **resources_of("pixel2d_figures"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.figures", "--db {input} --property-space {output.property_space} "
              "--gallery {output.gallery} --cfg {params.cfg:q}")
