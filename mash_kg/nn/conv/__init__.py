from mash_kg.nn.conv.hgcn_conv import HGCNConv

__all__ = ["HGCNConv"]
