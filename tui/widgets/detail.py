"""The detail pane: the selected plan as a tree of ExecutionGroups -> orders -> fills, with statuses."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.models import GroupStatus, Order, OrderStatus, OrderType, PlanStatus, Side, TradePlan
from tui.widgets.fmt import avg, money, num, signed

ORDER_STYLE = {
    OrderStatus.PENDING: "yellow", OrderStatus.OPEN: "green", OrderStatus.PARTIALLY_FILLED: "cyan",
    OrderStatus.FILLED: "blue", OrderStatus.CANCELLED: "dim", OrderStatus.REJECTED: "bold red",
    OrderStatus.EXPIRED: "dim", OrderStatus.UNKNOWN: "bold yellow",
}
GROUP_STYLE = {
    GroupStatus.PENDING: "yellow", GroupStatus.ACTIVE: "green", GroupStatus.COMPLETED: "blue",
    GroupStatus.CANCELLED: "dim", GroupStatus.FAILED: "bold red", GroupStatus.PARTIAL: "yellow",
}


def order_label(o: Order) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{o.status:<16}", ORDER_STYLE.get(o.status, ""))
    t.append(f"{o.role:<11} ", "bold" if o.is_open else "dim")
    t.append(f"{o.side:<4} {o.type:<11} ")
    t.append(f"{num(o.quantity)}")
    if o.filled_quantity and o.filled_quantity != o.quantity:
        t.append(f" ({num(o.filled_quantity)} filled)", "cyan")
    if o.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and o.stop_price is not None:
        t.append(f" stop {num(o.stop_price)}")
    if o.price is not None:
        t.append(f" @ {num(o.price)}")
    if o.time_in_force is not None:
        t.append(f" {o.time_in_force}", "dim")
    if o.reduce_only:
        t.append(" RO", "dim")
    if o.reason and not o.is_open:
        t.append(f"  {o.reason}", "dim italic")
    t.append(f"  {o.order_id}", "dim")
    return t


class PlanDetail(Tree[str]):
    """`show(plan)` rebuilds the (small) tree of one plan, keeping which groups were expanded or collapsed."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("no plan selected", id=id)
        self.show_root = True
        self.guide_depth = 3
        self.plan_id: str | None = None
        self.version: int | None = None
        self._toggled: dict[str, bool] = {}

    def show(self, plan: TradePlan | None, unprotected: str | None = None) -> None:
        """`unprotected`: why the plan holds a position without full stop coverage (DESIGN §3a), shown first."""
        if plan is None:
            self.plan_id, self.version = None, None
            self.clear()
            self.root.set_label(Text("no plan selected", "dim"))
            return
        if plan.plan_id != self.plan_id:
            self._toggled.clear()
        self.plan_id, self.version = plan.plan_id, plan.version
        self.clear()
        self.root.set_label(self._plan_label(plan))
        self.root.expand()
        if unprotected:
            self.root.add_leaf(Text(f"⚠ UNPROTECTED: {unprotected}", "bold white on red", no_wrap=True))
        by_id = {o.order_id: o for o in plan.orders}
        fills: dict[str, list[Text]] = {}
        for f in plan.fills:
            t = Text(f"fill {f.side} {num(f.quantity)} @ {num(f.price)}", no_wrap=True)
            if f.fee:
                t.append(f"  fee {num(f.fee)}", "dim")
            t.append(f"  {f.fill_id}", "dim")
            fills.setdefault(f.order_id, []).append(t)
        grouped: set[str] = set()
        for g in reversed(plan.groups):  # newest first
            orders = [by_id[oid] for oid in g.order_ids if oid in by_id]
            grouped.update(o.order_id for o in orders)
            label = Text(no_wrap=True)
            label.append(f"{g.group_id} ", "bold")
            label.append(f"{g.directive_id} ", "dim")
            label.append(str(g.status), GROUP_STYLE.get(g.status, ""))
            label.append(f"  {len(orders)} orders", "dim")
            self._add_orders(self.root.add(label, data=g.group_id), g.group_id, orders, fills,
                             default_open=any(o.is_open for o in orders) or g is plan.groups[-1])
        loose = [o for o in plan.orders if o.order_id not in grouped]
        if loose:
            node = self.root.add(Text(f"orders without a group  {len(loose)}", "bold"), data="(loose)")
            self._add_orders(node, "(loose)", loose, fills, default_open=any(o.is_open for o in loose))

    def _add_orders(self, node: TreeNode[str], key: str, orders: list[Order], fills: dict[str, list[Text]],
                    *, default_open: bool) -> None:
        for o in orders:
            its = fills.get(o.order_id, [])
            if its:
                child = node.add(order_label(o), data=o.order_id, expand=self._toggled.get(o.order_id, False))
                for f in its:
                    child.add_leaf(f)
            else:
                node.add_leaf(order_label(o), data=o.order_id)
        if self._toggled.get(key, default_open):
            node.expand()

    @staticmethod
    def _plan_label(plan: TradePlan) -> Text:
        t = Text(no_wrap=True)
        t.append(f"{plan.plan_id} ", "bold")
        t.append(f"{plan.symbol} ")
        long = plan.direction is Side.BUY
        t.append("LONG " if long else "SHORT ", "green" if long else "magenta")
        t.append(signed(plan.net_position))
        if plan.net_position:
            t.append(f" @ {avg(plan.avg_entry_price)}")
        t.append("  ")
        t.append(str(plan.status), "green" if plan.status is PlanStatus.ACTIVE else "dim")
        t.append(f"  realised {money(plan.realized_pnl)}", "dim")
        t.append(f"  v{plan.version}", "dim")
        return t

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        if event.node.data is not None:
            self._toggled[event.node.data] = True

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[str]) -> None:
        if event.node.data is not None:
            self._toggled[event.node.data] = False
