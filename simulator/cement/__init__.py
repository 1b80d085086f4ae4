"""The cement: rheology of the product (:mod:`.rheology`), the Darcy flow grid and solver
(:mod:`.flow`) and the injection model the procedure drives (:mod:`.injection`).

The package knows volumes, pressures and fills; it computes no X-ray attenuation (the
fluoroscopy turns :meth:`~simulator.cement.injection.CementInjection.field` into an image).
"""
