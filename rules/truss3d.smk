# truss3d: elementary lattices -> perturbation chains (library) -> superposition -> sharded
# Timoshenko-beam homogenization at fixed relative density.
# data/truss3d/library/shard_S.h5      perturbation chains of shard S
# data/truss3d/library.h5              elementary lattices + chains, deduplicated
# data/truss3d/superposed/shard_S.h5   superposed pairs of library lattices
# data/truss3d/lattices.h5             library + superposed, deduplicated
# data/truss3d/stiffness/shard_S.h5    C of one slice of the lattices
# data/truss3d/database.h5             lattices + C + origin
# data/truss3d/figures/*.png           gallery, elastic surfaces, property space
# data/truss3d/nonlinear/shard_S.h5    large-compression paths of shard S of a random subset
# data/truss3d/nonlinear/database.h5   the stress-strain database
# data/truss3d/nonlinear/predictor.h5  the curve predictor from the latent space (+ .json, fig6a_predictions.png)
# (named target truss3d_nonlinear, with the curve designs of rules/design.smk; in `all` when
# truss3d.nonlinear.in_default_run)
T3 = "data/truss3d"
T3CFG = config["truss3d"]


rule truss3d:
    input:
        f"{T3}/database.h5",
        f"{T3}/figures/gallery.png",
        f"{T3}/figures/elastic_surfaces.png",
        f"{T3}/figures/property_space.png",


rule truss3d_library_shard:
    output:
        f"{T3}/library/shard_{{shard}}.h5",
    params:
        cfg=cfg_json("truss3d", "library"),
        seed=config["seed"],
    log:
        f"{T3}/logs/library_{{shard}}.log",
    threads: threads_of("truss3d_library_shard")
    resources:
        **resources_of("truss3d_library_shard"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.library_shard", "--out {output} --shard {wildcards.shard} --cfg {params.cfg:q} --seed {params.seed}")


rule truss3d_library:
    input:
        expand(f"{T3}/library/shard_{{shard}}.h5", shard=range(T3CFG["library"]["shards"])),
    output:
        f"{T3}/library.h5",
    log:
        f"{T3}/logs/library.log",
    threads: threads_of("truss3d_library")
    resources:
        **resources_of("truss3d_library"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.library", "--parts {input} --out {output}")


rule truss3d_superpose:
    input:
        f"{T3}/library.h5",
    output:
        f"{T3}/superposed/shard_{{shard}}.h5",
    params:
        cfg=cfg_json("truss3d", "superposition"),
        seed=config["seed"],
    log:
        f"{T3}/logs/superposed_{{shard}}.log",
    threads: threads_of("truss3d_superpose")
    resources:
        **resources_of("truss3d_superpose"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.superpose_shard", "--library {input} --out {output} --shard {wildcards.shard} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule truss3d_lattices:
    input:
        library=f"{T3}/library.h5",
        superposed=expand(f"{T3}/superposed/shard_{{shard}}.h5", shard=range(T3CFG["superposition"]["shards"])),
    output:
        f"{T3}/lattices.h5",
    log:
        f"{T3}/logs/lattices.log",
    threads: threads_of("truss3d_lattices")
    resources:
        **resources_of("truss3d_lattices"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.lattices", "--library {input.library} --superposed {input.superposed} --out {output}")


rule truss3d_homogenize:
    input:
        f"{T3}/lattices.h5",
    output:
        f"{T3}/stiffness/shard_{{shard}}.h5",
    params:
        cfg=cfg_json("truss3d", "material", "beam", "relative_density", "density", "homogenize"),
    log:
        f"{T3}/logs/stiffness_{{shard}}.log",
    threads: threads_of("truss3d_homogenize")
    resources:
        **resources_of("truss3d_homogenize"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.homogenize_shard", "--lattices {input} --out {output} --shard {wildcards.shard} "
              "--cfg {params.cfg:q}")


rule truss3d_database:
    input:
        lattices=f"{T3}/lattices.h5",
        stiffness=expand(f"{T3}/stiffness/shard_{{shard}}.h5", shard=range(T3CFG["homogenize"]["shards"])),
    output:
        f"{T3}/database.h5",
    params:
        # provenance: the whole chain's config (downstream sections aside); upstream changes rerun this anyway
        cfg=provenance_cfg("truss3d"),
        seed=config["seed"],
    log:
        f"{T3}/logs/database.log",
    threads: threads_of("truss3d_database")
    resources:
        **resources_of("truss3d_database"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.database", "--lattices {input.lattices} --stiffness {input.stiffness} --out {output} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule truss3d_figures:
    input:
        f"{T3}/database.h5",
    output:
        gallery=reported(f"{T3}/figures/gallery.png", "truss3d_gallery", "truss3d", "database",
                         "lattices across the property space"),
        surfaces=reported(f"{T3}/figures/elastic_surfaces.png", "truss3d_elastic_surfaces", "truss3d", "database",
                          "elastic surfaces of extreme lattices"),
        property_space=reported(f"{T3}/figures/property_space.png", "truss3d_property_space", "truss3d",
                                "database", "Fig. 1d: property space"),
    params:
        cfg=cfg_json("truss3d", "figures"),
    log:
        f"{T3}/logs/figures.log",
    threads: threads_of("truss3d_figures")
    resources:
        **resources_of("truss3d_figures"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.figures", "--db {input} --gallery {output.gallery} --surfaces {output.surfaces} "
              "--property-space {output.property_space} --cfg {params.cfg:q}")


rule truss3d_nonlinear:
    input:
        truss_nonlinear_all(),


rule truss3d_nonlinear_shard:
    input:
        f"{T3}/database.h5",
    output:
        f"{T3}/nonlinear/shard_{{shard}}.h5",
    params:
        cfg=truss_nonlinear_cfg(),
        seed=config["seed"],
    log:
        f"{T3}/logs/nonlinear_{{shard}}.log",
    threads: threads_of("truss3d_nonlinear_shard")
    resources:
        **resources_of("truss3d_nonlinear_shard"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.nonlinear_shard", "--db {input} --out {output} --shard {wildcards.shard} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule truss3d_nonlinear_database:
    input:
        expand(f"{T3}/nonlinear/shard_{{shard}}.h5", shard=range(T3CFG["nonlinear"]["shards"])),
    output:
        out=f"{T3}/nonlinear/database.h5",
        figure=reported(f"{T3}/nonlinear/curves.png", "truss3d_nonlinear_curves", "truss3d", "database",
                        "stress-strain curves of the database"),
    log:
        f"{T3}/logs/nonlinear_database.log",
    threads: threads_of("truss3d_nonlinear_database")
    resources:
        **resources_of("truss3d_nonlinear_database"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.nonlinear_database", "--parts {input} --out {output.out} --figure {output.figure}")


rule truss3d_nonlinear_predictor:
    input:
        db=f"{T3}/database.h5",
        nonlinear=f"{T3}/nonlinear/database.h5",
        model=f"{T3}/model/model.h5",
    output:
        out=f"{T3}/nonlinear/predictor.h5",
        metrics=f"{T3}/nonlinear/predictor.json",
        figure=reported(f"{T3}/nonlinear/fig6a_predictions.png", "truss3d_fig6a_predictions", "truss3d", "model",
                        "Fig. 6a: predicted stress-strain curves"),
    params:
        cfg=truss_predictor_cfg(),
        seed=config["seed"],
    log:
        f"{T3}/logs/nonlinear_predictor.log",
    threads: threads_of("truss3d_nonlinear_predictor")
    resources:
        **resources_of("truss3d_nonlinear_predictor"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.nonlinear_predictor", "--db {input.db} --nonlinear {input.nonlinear} --model {input.model} "
              "--out {output.out} --metrics {output.metrics} --figure {output.figure} --cfg {params.cfg:q} "
              "--seed {params.seed}")
