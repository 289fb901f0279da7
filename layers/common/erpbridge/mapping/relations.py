"""Relations derived from virtual columns, as Dynamicweb's Ecom provider does (anchor §5.9).

A product row may carry ``Groups`` (comma list of group ids), ``GroupSorting`` and
``PrimaryGroup``; a group row ``Shops``/``ShopSorting`` and ``ParentGroups``/``ParentGroupsSorting``;
a product row ``VariantGroups`` and ``VariantOptions``. These are not columns of the destination
table: each becomes rows of a relation table (upserted). Shop-group, parent-group and
variant-group relations of each imported owner are *replaced* by the file's (an empty list removes
them; an absent column leaves them alone); product-group and variant-option relations are pruned
that way only when the owner mapping has ``remove_missing`` — as Dynamicweb does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DerivedRelation:
    owner_table: str
    list_column: str  # the virtual source column holding a comma list of related ids
    owner_column: str  # the owner's id column in the owner table
    relation_table: str
    relation_owner: str  # relation column holding the owner id
    relation_related: str  # relation column holding one listed id
    sorting_column: str | None = None  # virtual comma list of sort values, same order
    relation_sorting: str | None = None
    primary_column: str | None = None  # virtual: the one listed id that is primary
    relation_primary: str | None = None
    relation_id: str | None = None  # a surrogate id column to fill on insert: "<owner>.<related>"
    position_sorting: bool = False  # sorting = position in the list when no sorting column
    default_to_shop: bool = False  # an empty list means "the default shop"
    # Dynamicweb replaces shop-group, parent-group and variant-group relations of every imported
    # owner, but prunes product-group and variant-option relations only with "remove missing".
    replace_always: bool = True
    # How an import with a shop scope confines the replacement to its shop: "related" — the
    # related column holds the shop id (shop-group relations); "related_group" — the related
    # column holds a group id, and only groups of the shop count (product-group relations).
    shop_scope: str | None = None

    @property
    def virtual_columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.list_column, self.sorting_column, self.primary_column) if c)

    @property
    def stage_columns(self) -> tuple[str, ...]:
        return tuple(
            c
            for c in (
                self.relation_owner,
                self.relation_related,
                self.relation_sorting,
                self.relation_primary,
                self.relation_id,
            )
            if c
        )


RELATIONS: tuple[DerivedRelation, ...] = (
    DerivedRelation(
        owner_table="EcomProducts",
        list_column="Groups",
        owner_column="ProductID",
        relation_table="EcomGroupProductRelation",
        relation_owner="GroupProductRelationProductID",
        relation_related="GroupProductRelationGroupID",
        sorting_column="GroupSorting",
        relation_sorting="GroupProductRelationSorting",
        primary_column="PrimaryGroup",
        relation_primary="GroupProductRelationIsPrimary",
        replace_always=False,
        shop_scope="related_group",
    ),
    DerivedRelation(
        owner_table="EcomGroups",
        list_column="Shops",
        owner_column="GroupID",
        relation_table="EcomShopGroupRelation",
        relation_owner="ShopGroupGroupID",
        relation_related="ShopGroupShopID",
        sorting_column="ShopSorting",
        relation_sorting="ShopGroupRelationsSorting",
        default_to_shop=True,
        shop_scope="related",
    ),
    DerivedRelation(
        owner_table="EcomGroups",
        list_column="ParentGroups",
        owner_column="GroupID",
        relation_table="EcomGroupRelations",
        relation_owner="GroupRelationsGroupID",
        relation_related="GroupRelationsParentID",
        sorting_column="ParentGroupsSorting",
        relation_sorting="GroupRelationsSorting",
    ),
    DerivedRelation(
        owner_table="EcomProducts",
        list_column="VariantGroups",
        owner_column="ProductID",
        relation_table="EcomVariantgroupProductRelation",
        relation_owner="VariantgroupProductRelationProductID",
        relation_related="VariantgroupProductRelationVariantGroupID",
        relation_sorting="VariantGroupProductRelationSorting",
        relation_id="VariantgroupProductRelationID",
        position_sorting=True,
    ),
    DerivedRelation(
        owner_table="EcomProducts",
        list_column="VariantOptions",
        owner_column="ProductID",
        relation_table="EcomVariantOptionsProductRelation",
        relation_owner="VariantOptionsProductRelationProductID",
        relation_related="VariantOptionsProductRelationVariantID",
        replace_always=False,
    ),
)

# The shop-group relation: which groups belong to which shop (scopes product-group relations).
SHOP_GROUPS = ("EcomShopGroupRelation", "ShopGroupGroupID", "ShopGroupShopID")
# erpbridge's own record of which shop's imports contain a product (migration m0110): removal and
# deactivation of a shop touch only products it holds and no other shop does (anchor §5.8).
SHOP_PRODUCTS = ("erpbridge_shop_products", "product_id", "shop_id")
SHOP_PRODUCTS_OWNER = ("EcomProducts", "ProductID")

RELATIONS_BY_TABLE: dict[str, tuple[DerivedRelation, ...]] = {}
for _relation in RELATIONS:
    RELATIONS_BY_TABLE[_relation.owner_table] = (
        *RELATIONS_BY_TABLE.get(_relation.owner_table, ()),
        _relation,
    )


def split_list(value: str | None) -> list[str]:
    """``"a, 'b',c"`` → ``["a", "b", "c"]`` (quotes trimmed, blanks dropped)."""
    if not value:
        return []
    if "'" not in value and '"' not in value:  # the common list: whitespace is all to trim
        return [item for item in (part.strip() for part in value.split(",")) if item]
    return [item for item in (part.strip().strip("'\"").strip() for part in value.split(",")) if item]
