"""Tool retrieval over the open-world pool (envs/tool_pool.py): BM25 from the `bm25s` library.

    retriever = BM25Retriever(envs.tool_pool.load())
    hits = retriever.search("what's the weather in Paris tomorrow", k=5)   # [(PoolTool, score)], best first

A tool is indexed by its name split into words, its description and its parameters' names and descriptions
(`PoolTool.text`), lower-cased, English stop words removed, no stemming (bm25s's own tokenizer). The same query
always gives the same list.
"""

from __future__ import annotations

from envs.tool_pool import PoolTool, ToolPool


class BM25Retriever:
    """BM25 (bm25s, Lucene's scoring variant) over the pool's tool texts.

    Args:
        pool: The tools to index.
    """

    def __init__(self, pool: ToolPool) -> None:
        import bm25s

        self.pool = pool
        self._bm25s = bm25s
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize([t.text() for t in pool.tools], stopwords="en", show_progress=False),
                         show_progress=False)

    def search(self, query: str, k: int = 5) -> list[tuple[PoolTool, float]]:
        """The `k` best tools for `query`, best first, with their BM25 scores (a query with no indexed word
        scores 0 for every tool)."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: list[str], k: int = 5) -> list[list[tuple[PoolTool, float]]]:
        """`search` for several queries at once (one scoring pass)."""
        k = max(1, min(k, len(self.pool)))
        tokens = self._bm25s.tokenize(queries, stopwords="en", show_progress=False)
        docs, scores = self.index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [[(self.pool.tools[int(d)], float(s)) for d, s in zip(row_d, row_s, strict=True)]
                for row_d, row_s in zip(docs, scores, strict=True)]
