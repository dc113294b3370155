# Two-stage multiscale design of pixel2d structures (paper 000, section 5; pipeline_lib.pixel2d.multiscale):
# data/pixel2d/design/feasibility.h5          signed distance field of the database's property cloud
# data/pixel2d/design/<case>/macro.h5         stage 1: the macro property distribution
# data/pixel2d/design/<case>/assembly.h5      stage 2: candidate cells, MRF costs and labellings
# data/pixel2d/design/<case>/design.h5        stage 3: the structure, its BCs, targets, material, fine-scale result
# data/pixel2d/design/summary.json            every case of pixel2d.design.run, with wall times
# A case is config data (pixel2d.design.cases.<name>); one not in `run` is made by naming its design.h5.


rule pixel2d_feasibility:
    input:
        f"{P2}/database.h5",
    output:
        out=f"{DESIGN}/feasibility.h5",
        figure=reported(f"{DESIGN}/feasibility.png", "pixel2d_feasibility", "pixel2d", "design",
                        "feasible property region"),
    params:
        cfg=json.dumps(config["pixel2d"]["design"]["feasibility"], sort_keys=True),
    log:
        f"{P2}/logs/design_feasibility.log",
    threads: threads_of("pixel2d_feasibility")
    resources:
        **resources_of("pixel2d_feasibility"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.feasibility", "--db {input} --out {output.out} --figure {output.figure} --cfg {params.cfg:q}")


rule pixel2d_design_macro:
    input:
        db=f"{P2}/database.h5",
        space=lambda w: f"{DESIGN}/feasibility.h5" if design_space(w.case) == "database"
        else f"{P2}/latent/families.h5",
    output:
        out=f"{DESIGN}/{{case}}/macro.h5",
        figure=reported(f"{DESIGN}/{{case}}/fig16d_properties.png", "pixel2d_design_properties", "pixel2d", "design",
                        "Fig. 16d: stage 1 macro properties", case="{case}"),
    params:
        cfg=lambda w: design_cfg(w.case, "macro"),
        space=lambda w: "--feasibility" if design_space(w.case) == "database" else "--families",
    log:
        f"{P2}/logs/design_{{case}}_macro.log",
    threads: threads_of("pixel2d_design_macro")
    resources:
        **resources_of("pixel2d_design_macro"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.design_macro", "--db {input.db} {params.space} {input.space} --out {output.out} "
              "--figure {output.figure} --case {wildcards.case} --cfg {params.cfg:q}", check=False)


rule pixel2d_design_assemble:
    input:
        db=f"{P2}/database.h5",
        model=f"{P2}/model/model.h5",
        latent=f"{P2}/model/latent.h5",
        macro=f"{DESIGN}/{{case}}/macro.h5",
    output:
        out=f"{DESIGN}/{{case}}/assembly.h5",
        figure=reported(f"{DESIGN}/{{case}}/mrf_convergence.png", "pixel2d_design_mrf", "pixel2d", "design",
                        "stage 2: MRF assembly convergence", case="{case}"),
    params:
        cfg=lambda w: design_cfg(w.case, "assembly", "mrf"),
        seed=config["seed"],
    log:
        f"{P2}/logs/design_{{case}}_assemble.log",
    threads: threads_of("pixel2d_design_assemble")
    resources:
        **resources_of("pixel2d_design_assemble"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.design_assemble", "--db {input.db} --model {input.model} --latent {input.latent} "
              "--macro {input.macro} --out {output.out} --figure {output.figure} --case {wildcards.case} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule pixel2d_design_verify:
    input:
        db=f"{P2}/database.h5",
        macro=f"{DESIGN}/{{case}}/macro.h5",
        assembly=f"{DESIGN}/{{case}}/assembly.h5",
    output:
        out=f"{DESIGN}/{{case}}/design.h5",
        structure_figure=reported(f"{DESIGN}/{{case}}/structure.png", "pixel2d_design_structure", "pixel2d",
                                  "design", "stage 3: assembled structure", case="{case}"),
        deformed_figure=reported(f"{DESIGN}/{{case}}/fig16c_deformed.png", "pixel2d_design_deformed", "pixel2d",
                                 "design", "Fig. 16c: deformed structure", case="{case}"),
        summary=f"{DESIGN}/{{case}}/summary.json",
    params:
        cfg=lambda w: design_cfg(w.case, "solver"),
    log:
        f"{P2}/logs/design_{{case}}_verify.log",
    threads: threads_of("pixel2d_design_verify")
    resources:
        **dict(resources_of("pixel2d_design_verify"), mem_mb=lambda w: design_verify_mem_mb(w.case)),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.design_verify", "--db {input.db} --macro {input.macro} --assembly {input.assembly} "
              "--out {output.out} --structure-figure {output.structure_figure} "
              "--deformed-figure {output.deformed_figure} --summary {output.summary} --case {wildcards.case} "
              "--cfg {params.cfg:q}")


rule pixel2d_design_summary:
    input:
        [f"{DESIGN}/{c}/summary.json" for c in config["pixel2d"]["design"]["run"]],
    output:
        f"{DESIGN}/summary.json",
    log:
        f"{P2}/logs/design_summary.log",
    threads: threads_of("pixel2d_design_summary")
    resources:
        **resources_of("pixel2d_design_summary"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("pixel2d.design_summary", "--parts {input} --out {output}")


# Gradient inverse design of truss3d lattices in the graph VAE's latent space (paper 002, Fig. 5;
# pipeline_lib.truss3d.design), one job per target of truss3d.design.run:
# data/truss3d/design/<target>.h5        one row per start: lattice, validity, FE stiffness, objective FE and predicted
# data/truss3d/design/<target>.json      database extreme, FE-verified best, improvement, valid runs, predictor error
# data/truss3d/design/<target>_fig5_*.png, <target>_surface.png, <target>.vtp/.stl
# data/truss3d/design/summary.json       every target of truss3d.design.run (and the curve targets when
#                                        truss3d.nonlinear.in_default_run)
# data/truss3d/design/nonlinear_<t>.h5, .json, _fig6b.png   design to a target stress-strain curve
#                                        (paper 002, Fig. 6b; t in truss3d.nonlinear.design.run)


rule design_truss3d:
    input:
        db="data/truss3d/database.h5",
        model="data/truss3d/model/model.h5",
        latent="data/truss3d/model/latent.h5",
    output:
        **truss_design_outputs(),
    wildcard_constraints:
        target=r"(max|min)_[A-Za-z0-9_]+",
    params:
        cfg=truss_design_cfg(),
        seed=config["seed"],
    log:
        "data/truss3d/logs/design_{target}.log",
    threads: threads_of("design_truss3d")
    resources:
        **resources_of("design_truss3d"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.design", "--db {input.db} --model {input.model} --latent {input.latent} --out {output.out} "
              "--summary {output.summary} --path-figure {output.path_figure} --space-figure {output.space_figure} "
              "--surface-figure {output.surface_figure} --vtp {output.vtp} --stl {output.stl} "
              "--target {wildcards.target} --cfg {params.cfg:q} --seed {params.seed}")


rule design_truss3d_nonlinear:
    input:
        db="data/truss3d/database.h5",
        model="data/truss3d/model/model.h5",
        nonlinear="data/truss3d/nonlinear/database.h5",
        predictor="data/truss3d/nonlinear/predictor.h5",
    output:
        **{k: f"{T3D_DESIGN}/{v.format(t='{target}')}" for k, v in T3D_NONLINEAR_FILES.items() if k != "figure"},
        figure=reported(f"{T3D_DESIGN}/nonlinear_{{target}}_fig6b.png", "truss3d_fig6b_design", "truss3d", "design",
                        "Fig. 6b: design to a target curve", target="nonlinear_{target}"),
    wildcard_constraints:
        target="stiff|softening",
    params:
        cfg=truss_nonlinear_design_cfg(),
        seed=config["seed"],
    log:
        "data/truss3d/logs/design_nonlinear_{target}.log",
    threads: threads_of("design_truss3d_nonlinear")
    resources:
        **resources_of("design_truss3d_nonlinear"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.nonlinear_design", "--db {input.db} --model {input.model} --nonlinear {input.nonlinear} "
              "--predictor {input.predictor} --out {output.out} --summary {output.summary} "
              "--figure {output.figure} --target {wildcards.target} --cfg {params.cfg:q} --seed {params.seed}")


rule design_truss3d_summary:
    input:
        truss_design_parts(),
    output:
        f"{T3D_DESIGN}/summary.json",
    log:
        "data/truss3d/logs/design_summary.log",
    threads: threads_of("design_truss3d_summary")
    resources:
        **resources_of("design_truss3d_summary"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("truss3d.design_summary", "--parts {input} --out {output}")
