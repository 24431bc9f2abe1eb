"""PyTorch reference models for pcx's golden fixtures and benchmarks.

pcx's golden tests compare its Go models with these float64 PyTorch
re-implementations. Each model family has one module, and every script in
scripts/ imports from here instead of carrying its own copy:

    ref.pointmae   Point-MAE's fine-tuning classifier (models/Point_MAE.py):
                   Group, Encoder, Attention, Mlp, Block, TransformerEncoder,
                   PointTransformer
    ref.pointmae_pretrain  Point-MAE's masked-autoencoder pre-training
                   (models/Point_MAE.py Point_MAE): MaskTransformer,
                   TransformerDecoder, PointMAEPretrain, chamfer_l2
    ref.dapt       DAPT (LMD0311/DAPT, models/DAPT.py): TFTS, Adapter_MLP,
                   the prompt-token Block, PointTransformerDAPT
    ref.daptx      pcx's DAPT-X (adapters/daptx.go, adapters/smoa.go): SMoA,
                   the balance loss, Block, KeepDAPTBlock,
                   PointTransformerDAPTX
    ref.adapters   pcx's generic adapters (adapters/generic.go):
                   SerialAdapter, AdaptFormer and their -X forms on the SMoA
    ref.init       the deterministic weight formulas the Go tests reproduce
                   ("splitmix" and "sin") and the kinds of state-dict entries
    ref.fixture    JSON encoders, gradient summaries, kNN and the shared
                   inputs of the golden fixtures

A model family added later (a ViT for the image path, say) goes in a module
of its own next to these, using ref.init and ref.fixture as they are.

The scripts run as `/usr/bin/python3 scripts/<name>.py` from the repository
root; each puts scripts/ at the front of sys.path before `import ref`.
Importing this package changes no global state (no seed, no default
dtype): each script sets those itself, before it builds a model.
"""
