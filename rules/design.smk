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


# Uncertainty quantification and robust design of voxel3d units (paper 004, sections 2.2 and 4.2;
# pipeline_lib.voxel3d.robust), every design FE-verified with the nominal material and material draws:
# data/voxel3d/design/uq.h5             Eqs. 6-9 on validation and test units: calibration, temperature, M study
# data/voxel3d/design/bulk.h5           case 1: one row per lambda (z, cells, K predicted / FE) + lookup baselines
# data/voxel3d/design/pareto.h5         case 2: the robust Pareto designs (E and nu)
# data/voxel3d/design/deterministic.h5  Appendix D: feed-forward regressor, mean-only NSGA-II, both cases
# data/voxel3d/design/summary.json      Tables 4 and 6, CV under material scatter, K / K_HS, coverage, wall times


rule uq_voxel3d:
    input:
        **V3D_MODEL,
        aleatoric="data/voxel3d/aleatoric.h5",
    output:
        out=f"{V3D_DESIGN}/uq.h5",
        calibration=reported(f"{V3D_DESIGN}/uq_calibration.png", "voxel3d_uq_calibration", "voxel3d", "design",
                             "uncertainty calibration against FE"),
        convergence=reported(f"{V3D_DESIGN}/figB1_convergence.png", "voxel3d_uq_convergence", "voxel3d", "design",
                             "Fig. B1: convergence in the latent samples M"),
    params:
        cfg=v3_design_cfg("uq", "calibrate", "convergence"),
        seed=config["seed"],
    log:
        "data/voxel3d/logs/design_uq.log",
    threads: threads_of("uq_voxel3d")
    resources:
        **v3_design_resources("uq_voxel3d"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.uq", "--db {input.db} --model {input.model} --latent {input.latent} "
              "--aleatoric {input.aleatoric} --out {output.out} --calibration-figure {output.calibration} "
              "--convergence-figure {output.convergence} --cfg {params.cfg:q} --seed {params.seed}")


rule design_voxel3d_bulk:
    input:
        **V3D_MODEL,
        uq=f"{V3D_DESIGN}/uq.h5",
    output:
        out=f"{V3D_DESIGN}/bulk.h5",
        summary=f"{V3D_DESIGN}/bulk.json",
        units=reported(f"{V3D_DESIGN}/fig9_units.png", "voxel3d_fig9_units", "voxel3d", "design",
                       "Fig. 9: robust bulk-modulus optima per lambda"),
        lam=reported(f"{V3D_DESIGN}/table4_lambda.png", "voxel3d_table4_lambda", "voxel3d", "design",
                     "Table 4: bulk modulus against lambda, predicted and FE"),
        stl=f"{V3D_DESIGN}/bulk.stl",
    params:
        cfg=v3_design_cfg(*V3D_SEARCH, "bulk", "baseline", "verify_top", "refine"),
        seed=config["seed"],
    log:
        "data/voxel3d/logs/design_bulk.log",
    threads: threads_of("design_voxel3d_bulk")
    resources:
        **v3_design_resources("design_voxel3d_bulk"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.design_bulk", "--db {input.db} --model {input.model} --latent {input.latent} "
              "--uq-path {input.uq} --out {output.out} --summary {output.summary} --units-figure {output.units} "
              "--lambda-figure {output.lam} --stl {output.stl} --cfg {params.cfg:q} --seed {params.seed}")


rule design_voxel3d_pareto:
    input:
        **V3D_MODEL,
        uq=f"{V3D_DESIGN}/uq.h5",
    output:
        out=f"{V3D_DESIGN}/pareto.h5",
        summary=f"{V3D_DESIGN}/pareto.json",
        units=reported(f"{V3D_DESIGN}/fig10a_units.png", "voxel3d_fig10a_units", "voxel3d", "design",
                       "Fig. 10a: robust Pareto designs"),
        hypervolume=reported(f"{V3D_DESIGN}/pareto_hypervolume.png", "voxel3d_pareto_hypervolume", "voxel3d",
                             "design", "NSGA-II hypervolume per generation"),
    params:
        cfg=v3_design_cfg(*V3D_SEARCH, "pareto"),
        seed=config["seed"],
    log:
        "data/voxel3d/logs/design_pareto.log",
    threads: threads_of("design_voxel3d_pareto")
    resources:
        **v3_design_resources("design_voxel3d_pareto"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.design_pareto", "--db {input.db} --model {input.model} --latent {input.latent} "
              "--uq-path {input.uq} --out {output.out} --summary {output.summary} --units-figure {output.units} "
              "--hypervolume-figure {output.hypervolume} --cfg {params.cfg:q} --seed {params.seed}")


rule design_voxel3d_deterministic:
    input:
        **V3D_MODEL,
        uq=f"{V3D_DESIGN}/uq.h5",
    output:
        out=f"{V3D_DESIGN}/deterministic.h5",
        summary=f"{V3D_DESIGN}/deterministic.json",
        units=reported(f"{V3D_DESIGN}/fig10b_units.png", "voxel3d_fig10b_units", "voxel3d", "design",
                       "Fig. 10b: deterministic designs"),
    params:
        cfg=v3_design_cfg(*V3D_SEARCH, "bulk", "pareto", "deterministic"),
        seed=config["seed"],
    log:
        "data/voxel3d/logs/design_deterministic.log",
    threads: threads_of("design_voxel3d_deterministic")
    resources:
        **v3_design_resources("design_voxel3d_deterministic"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.design_deterministic", "--db {input.db} --model {input.model} --latent {input.latent} "
              "--uq-path {input.uq} --out {output.out} --summary {output.summary} --units-figure {output.units} "
              "--cfg {params.cfg:q} --seed {params.seed}")


rule design_voxel3d:
    input:
        bulk=f"{V3D_DESIGN}/bulk.h5",
        pareto=f"{V3D_DESIGN}/pareto.h5",
        deterministic=f"{V3D_DESIGN}/deterministic.h5",
        uq=f"{V3D_DESIGN}/uq.h5",
    output:
        out=f"{V3D_DESIGN}/summary.json",
        fronts=reported(f"{V3D_DESIGN}/fig10c_fronts.png", "voxel3d_fig10c_fronts", "voxel3d", "design",
                        "Fig. 10c: Pareto designs, robust and deterministic, predicted and FE"),
        cv=reported(f"{V3D_DESIGN}/fig11_cv.png", "voxel3d_fig11_cv", "voxel3d", "design",
                    "Fig. 11: coefficient of variation under material scatter"),
    log:
        "data/voxel3d/logs/design_summary.log",
    threads: threads_of("design_voxel3d")
    resources:
        **resources_of("design_voxel3d"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.design_summary", "--bulk {input.bulk} --pareto {input.pareto} "
              "--deterministic {input.deterministic} --uq-path {input.uq} --out {output.out} "
              "--fronts-figure {output.fronts} --cv-figure {output.cv}")
