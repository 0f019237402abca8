"""``xtrace.tree_util``: pytree utilities (JAX's names)."""
from xtrace._src.tree_util import (Partial, PyTreeDef, flatten_up_to, register_dataclass,  # noqa
                                   register_pytree_node, register_pytree_node_class, tree_all,
                                   tree_flatten, tree_leaves, tree_map, tree_reduce,
                                   tree_structure, tree_transpose, tree_unflatten,
                                   treedef_children)
