"""Evaluation metrics (numpy), shared by the three models."""
from __future__ import annotations

import numpy as np


def r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column."""
    y = np.asarray(y, float).reshape(len(y), -1)
    pred = np.asarray(pred, float).reshape(len(pred), -1)
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)


def nrmse(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Root-mean-square error per column over the column's range (paper 004, Eq. 14)."""
    y = np.asarray(y, float).reshape(len(y), -1)
    pred = np.asarray(pred, float).reshape(len(pred), -1)
    rmse = np.sqrt(((y - pred) ** 2).mean(0))
    return rmse / np.where(np.ptp(y, 0) > 0, np.ptp(y, 0), np.nan)


def binary_accuracy(truth: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of entries where the thresholded prediction equals the truth."""
    return float((np.asarray(truth, bool) == np.asarray(pred, bool)).mean())


def f1(truth: np.ndarray, pred: np.ndarray) -> float:
    """F1 score over the positive entries (not dominated by the many negatives)."""
    t, p = np.asarray(truth, bool), np.asarray(pred, bool)
    tp = np.count_nonzero(t & p)
    denom = 2 * tp + np.count_nonzero(t & ~p) + np.count_nonzero(~t & p)
    return float(2 * tp / denom) if denom else 1.0
