#!/usr/bin/python3
"""Fits the polynomials of src/kernels/vec_body.h (exp, tanh, erfc) by
iteratively reweighted least squares towards minimax, in float64 with numpy.
Run: /usr/bin/python3 tests/kernels/vec_poly_fit.py (prints coefficients and
the max weighted fit error of each)."""
import numpy as np
from math import erfc, log, sqrt
def fit(f, xs, basis, w, iters=60):
    # Lawson iteratively reweighted least squares towards minimax of w*(f - sum c*basis)
    A = np.array([[b(x) for b in basis] for x in xs]); y = np.array([f(x) for x in xs]); W = np.array([w(x) for x in xs])
    lw = np.ones(len(xs))
    for _ in range(iters):
        sw = np.sqrt(lw)*W
        c, *_ = np.linalg.lstsq(A*sw[:,None], y*sw, rcond=None)
        e = np.abs((A@c - y)*W)
        lw = lw*e; lw /= lw.sum()
    return c, e.max()
N=4000
# exp: exp(r) = 1 + r + r^2 * P(r), P deg 4
L=log(2)/2; xs=np.cos(np.linspace(0,np.pi,N))*L
c,e=fit(lambda r:(np.expm1(r)-r)/r**2 if r!=0 else 0.5, xs, [lambda r,k=k:r**k for k in range(5)], lambda r:r*r/np.exp(r))
print("exp", repr(list(c)), e)
# tanh: tanh(x) = x + x^3 Q(x^2), x in [0, 0.625]
X=0.625; xs=(np.cos(np.linspace(0,np.pi,N))*0.5+0.5)*X+1e-9
for deg in (5,6,7):
  c,e=fit(lambda x:(np.tanh(x)-x)/x**3, xs, [lambda x,k=k:x**(2*k) for k in range(deg)], lambda x:x**3/np.tanh(x))
  print("tanh",deg, repr(list(c)), e)
# erfc(a) = t*exp(-a^2 + P(t)), t = 1/(1+a/2), a in [0, 10]
xs=(np.cos(np.linspace(0,np.pi,N))*0.5+0.5)*10
for deg in (8,9,10,11):
  c,e=fit(lambda a: log(erfc(a)*(1+a/2))+a*a, xs, [lambda a,k=k:(1/(1+a/2))**k for k in range(deg+1)], lambda a:1.0)
  print("erfc",deg, repr(list(c)), e)
