# Generative models, one training rule per chain (train_pixel2d, train_truss3d, train_voxel3d):
# data/<chain>/model/model.h5      weights, split rows, config, history, test metrics
# data/<chain>/model/latent.h5     mu and log sigma^2 of every database row
# data/<chain>/model/metrics.json  the test metrics (voxel3d: validation too)
# data/<chain>/model/curves.png    training curves
# data/<chain>/model/train_state*.h5 (not an output) the per-epoch checkpoint a restarted job
#                                  resumes from; it survives a failed or killed job on purpose
# The rule reruns when the database or the model/train config changes; threads, memory, runtime and
# the GPU request are resources only, so changing them does not retrain.
TRAIN_ARGS = ("--db {input} --model {output.model} --latent {output.latent} --metrics {output.metrics} "
              "--curves {output.curves} --cfg {params.cfg:q} --seed {params.seed}")

for _chain in ("pixel2d", "truss3d", "voxel3d"):
    # the shell line is formatted when the job runs, after this loop: the stage comes from params
    check_stage_args(f"{_chain}.train", TRAIN_ARGS)

    rule:
        name:
            f"train_{_chain}"
        input:
            f"data/{_chain}/database.h5",
        output:
            model=f"data/{_chain}/model/model.h5",
            latent=f"data/{_chain}/model/latent.h5",
            metrics=f"data/{_chain}/model/metrics.json",
            curves=reported(f"data/{_chain}/model/curves.png", f"{_chain}_curves", _chain, "model",
                            "training curves"),
        params:
            stage=f"{_chain}.train",
            cfg=learn_cfg(_chain),
            seed=config["seed"],
        log:
            f"data/{_chain}/logs/train.log",
        threads: config[_chain]["train"]["threads"]
        resources:
            **learn_resources(_chain),
        conda:
            "../envs/metagen.yaml"
        shell:
            stage("{params.stage}", TRAIN_ARGS, check=False)


rule voxel3d_latent_study:
    input:
        "data/voxel3d/database.h5",
    output:
        table="data/voxel3d/model/latent_study.json",
        plot=reported("data/voxel3d/model/latent_study.png", "voxel3d_latent_study", "voxel3d", "model",
                      "Table C1: latent-size study"),
    params:
        cfg=learn_cfg("voxel3d", latent_study=config["voxel3d"]["latent_study"]),
        seed=config["seed"],
    log:
        "data/voxel3d/logs/latent_study.log",
    threads: config["voxel3d"]["train"]["threads"]
    resources:
        **learn_resources("voxel3d"),
    conda:
        "../envs/metagen.yaml"
    shell:
        stage("voxel3d.latent_study", "--db {input} --out {output.table} --plot {output.plot} "
              "--cfg {params.cfg:q} --seed {params.seed}")
