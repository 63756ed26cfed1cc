"""De-identification of DICOM headers after DICOM PS3.15 Annex E, Basic Application
Level Confidentiality Profile, applied as soon as a file is parsed and before any
of its metadata is read, logged, stored or answered.

What happens (a superset of the basic profile's actions, since nothing here needs
the options that retain dates or descriptions):
- every person name (VR PN), anywhere, including in sequences, is emptied;
- the attributes the profile removes (addresses, other ids, free-text comments and
  descriptions, institution, physicians, operators, ...) are removed;
- every date, time and date-time (VR DA, TM, DT) is emptied;
- the patient id is replaced by a keyed pseudonym, and every instance UID (VR UI,
  except class and transfer-syntax UIDs) is remapped to ``2.25.<keyed hash>``, so the
  same patient, study or image maps to the same value in every file and run while the
  original cannot be recovered without the key;
- private tags and curve and overlay groups (50xx, 60xx) are removed;
- Patient Identity Removed is set to YES and the method is recorded with code 113100.

The key is ``AIAAS_HOME/secrets/deidentify.key`` (32 random bytes, made on first use,
readable by its owner only). Burned-in text in the pixels is not removed; the
answer's metadata says when a file declares it (Burned In Annotation YES).
"""

from __future__ import annotations

from typing import Any

from aiaas import keyed_digest

METHOD = "PS3.15 E.1 Basic Profile (aiaas)"  # LO: at most 64 characters

REMOVE = {
    "AccessionNumber", "AcquisitionComments", "AcquisitionContextSequence", "ActualHumanPerformersSequence",
    "AdditionalPatientHistory", "AdmissionID", "AdmittingDiagnosesCodeSequence", "AdmittingDiagnosesDescription",
    "Allergies", "Arbitrary", "AuthorObserverSequence", "BranchOfService", "CommentsOnThePerformedProcedureStep",
    "ConfidentialityConstraintOnPatientDataDescription", "ContentCreatorIdentificationCodeSequence",
    "ContributionDescription", "CountryOfResidence", "CurrentPatientLocation", "CustodialOrganizationSequence",
    "DataSetTrailingPadding", "DerivationDescription", "DeviceSerialNumber", "DigitalSignaturesSequence",
    "DischargeDiagnosisDescription", "DistributionAddress", "DistributionName", "EthnicGroup", "FrameComments",
    "GraphicAnnotationSequence", "HumanPerformerOrganization", "IconImageSequence", "IdentifyingComments",
    "ImageComments", "ImagePresentationComments", "ImagingServiceRequestComments", "InstitutionAddress",
    "InstitutionCodeSequence", "InstitutionName", "InstitutionalDepartmentName", "InsurancePlanIdentification",
    "IntendedRecipientsOfResultsIdentificationSequence", "InterpretationApproverSequence", "InterpretationAuthor",
    "InterpretationDiagnosisDescription", "InterpretationIDIssuer", "InterpretationRecorder", "InterpretationText",
    "InterpretationTranscriber", "IssuerOfAdmissionID", "IssuerOfPatientID", "IssuerOfServiceEpisodeID",
    "MedicalAlerts", "MedicalRecordLocator", "MilitaryRank", "ModifiedAttributesSequence", "ModifyingDeviceID",
    "ModifyingDeviceManufacturer", "NameOfPhysiciansReadingStudy", "NamesOfIntendedRecipientsOfResults",
    "Occupation", "OperatorIdentificationSequence", "OperatorsName", "OriginalAttributesSequence", "OrderCallbackPhoneNumber",
    "OrderEnteredBy", "OrderEntererLocation", "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames",
    "ParticipantSequence", "PatientAddress", "PatientAge", "PatientBirthName", "PatientBirthTime", "PatientComments",
    "PatientInsurancePlanCodeSequence", "PatientMotherBirthName", "PatientPrimaryLanguageCodeSequence",
    "PatientReligiousPreference", "PatientSize", "PatientState", "PatientTelephoneNumbers", "PatientTransportArrangements",
    "PatientWeight", "PerformedLocation", "PerformedProcedureStepDescription", "PerformedProcedureStepID",
    "PerformingPhysicianIdentificationSequence", "PerformingPhysicianName", "PersonAddress", "PersonIdentificationCodeSequence",
    "PersonName", "PersonTelephoneNumbers", "PhysicianApprovingInterpretation", "PhysiciansOfRecord",
    "PhysiciansOfRecordIdentificationSequence", "PhysiciansReadingStudyIdentificationSequence", "PreMedication",
    "PregnancyStatus", "ReasonForTheImagingServiceRequest", "ReasonForStudy", "ReferencedPatientAliasSequence",
    "ReferencedPatientSequence", "ReferencedStudySequence", "ReferringPhysicianAddress",
    "ReferringPhysicianIdentificationSequence", "ReferringPhysicianTelephoneNumbers", "RegionOfResidence",
    "RequestAttributesSequence", "RequestedContrastAgent", "RequestedProcedureComments", "RequestedProcedureID",
    "RequestedProcedureLocation", "RequestingPhysician", "RequestingService", "ResponsibleOrganization",
    "ResponsiblePerson", "ResultsComments", "ResultsDistributionListSequence", "ResultsIDIssuer",
    "ScheduledHumanPerformersSequence", "ScheduledPatientInstitutionResidence", "ScheduledPerformingPhysicianIdentificationSequence",
    "ScheduledProcedureStepDescription", "ScheduledProcedureStepLocation", "ServiceEpisodeDescription", "ServiceEpisodeID",
    "SeriesDescription", "SmokingStatus", "SpecialNeeds", "StationName", "StudyComments", "StudyDescription", "StudyID",
    "StudyIDIssuer", "TextComments", "TextString", "TopicAuthor", "TopicKeywords", "TopicSubject", "TopicTitle",
    "VerifyingObserverIdentificationCodeSequence", "VerifyingObserverName", "VerifyingObserverSequence",
    "VerifyingOrganization", "VisitComments", "ProtocolName", "PatientSex", "PatientSexNeutered", "PatientBirthDate",
    "ReferringPhysicianName", "RequestedProcedureDescription", "ClinicalTrialSponsorName", "ClinicalTrialSubjectID",
}
"""Attributes the basic profile removes or empties (X, Z, X/Z, X/D, ...); removing
an empty-able Type 2 attribute is stricter than emptying it and loses nothing a model needs."""

KEEP_UIDS_ENDING = ("ClassUID", "TransferSyntaxUID", "CodingSchemeUID", "ImplementationClassUID")


def _digest(kind: str, value: str) -> bytes:
    return keyed_digest("deidentify", kind, value)


def pseudonym(patient_id: str) -> str:
    return "anon-" + _digest("patient", patient_id).hex()[:16]


def remap_uid(uid: str) -> str:
    return "2.25." + str(int.from_bytes(_digest("uid", uid)[:16], "big"))


def deidentify(ds: Any) -> None:
    """De-identify ``ds`` (a pydicom Dataset) in place."""
    from pydicom.dataset import Dataset

    ds.remove_private_tags()
    original_id = str(ds.get("PatientID", "") or "")

    def clean(dataset: Any) -> None:
        for element in list(dataset):
            group = element.tag.group
            if 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:
                del dataset[element.tag]
                continue
            keyword = element.keyword
            if keyword in REMOVE:
                del dataset[element.tag]
            elif element.VR == "SQ":
                for item in element.value:
                    clean(item)
            elif element.VR == "PN":
                element.value = ""
            elif element.VR in ("DA", "TM", "DT"):
                element.value = ""
            elif element.VR == "UI" and element.value and not keyword.endswith(KEEP_UIDS_ENDING):
                element.value = [remap_uid(str(v)) for v in element.value] if element.VM > 1 else remap_uid(str(element.value))

    clean(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = remap_uid(str(meta.MediaStorageSOPInstanceUID))
    ds.PatientID = pseudonym(original_id) if original_id else ""
    ds.PatientName = ""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113100", "DCM", "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = [code]
