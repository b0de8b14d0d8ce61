"""A Prefect flow reported by vigil.monitor (test/integrations/real-tools.test.ts): one run succeeds, one fails."""

from prefect import flow

import vigil


@flow
@vigil.monitor("prefect.ingest-orders")
def ingest_orders(fail: bool = False) -> int:
    if fail:
        raise RuntimeError("orders API down")
    return 3


if __name__ == "__main__":
    print("rows:", ingest_orders())
    try:
        ingest_orders(fail=True)
    except RuntimeError:
        print("the failing run failed")
